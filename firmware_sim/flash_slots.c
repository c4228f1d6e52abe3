/* Two-slot model storage (flash_slots.h). */
#include "flash_slots.h"

#include "el_port.h"
#include "el_proto.h" /* el_crc32 */

static const uint8_t k_magic[4] = {'E', 'L', 'F', 'S'};

static uint32_t slot_bytes(const el_hal_t *hal)
{
    return (hal->flash_bytes / 2u) & ~3u;
}

uint32_t el_slots_capacity(const el_hal_t *hal)
{
    uint32_t s = slot_bytes(hal);
    return s > EL_SLOT_HEADER_BYTES ? s - EL_SLOT_HEADER_BYTES : 0u;
}

el_slot_info_t el_slots_probe(const el_hal_t *hal, int slot, uint8_t *buf, uint32_t cap)
{
    el_slot_info_t info = {0, 0, 0, 0};
    uint8_t h[EL_SLOT_HEADER_BYTES];
    uint32_t base = (uint32_t)slot * slot_bytes(hal);
    if (el_slots_capacity(hal) == 0 || hal->flash_read(hal->flash_ctx, base, h, sizeof h) != 0) {
        return info;
    }
    if (h[0] != k_magic[0] || h[1] != k_magic[1] || h[2] != k_magic[2] || h[3] != k_magic[3] ||
        el_crc32(0, h, 16) != el_get_u32(h + 16)) {
        return info;
    }
    info.generation = el_get_u32(h + 4);
    info.length = el_get_u32(h + 8);
    info.crc = el_get_u32(h + 12);
    if (info.length == 0 || info.length > el_slots_capacity(hal) || info.length > cap ||
        hal->flash_read(hal->flash_ctx, base + EL_SLOT_HEADER_BYTES, buf, info.length) != 0 ||
        el_crc32(0, buf, info.length) != info.crc) {
        return info;
    }
    info.valid = 1;
    return info;
}

int el_slots_newest(const el_hal_t *hal, uint8_t *buf, uint32_t cap, el_slot_info_t *info)
{
    el_slot_info_t a = el_slots_probe(hal, 0, buf, cap);
    el_slot_info_t b = el_slots_probe(hal, 1, buf, cap);
    int best = -1;
    if (a.valid && (!b.valid || (int32_t)(a.generation - b.generation) > 0)) {
        best = 0;
        if (info) {
            *info = a;
        }
    } else if (b.valid) {
        best = 1;
        if (info) {
            *info = b;
        }
    }
    return best;
}

int el_slots_save(const el_hal_t *hal, const uint8_t *data, uint32_t n, uint8_t *verify,
                  uint32_t cap, int *slot, uint32_t *generation)
{
    el_slot_info_t cur;
    int newest, target;
    uint32_t base, gen, crc;
    uint8_t h[EL_SLOT_HEADER_BYTES];
    size_t i;
    if (n == 0 || n > el_slots_capacity(hal) || n > cap) {
        return -1;
    }
    newest = el_slots_newest(hal, verify, cap, &cur);
    target = newest == 0 ? 1 : 0;
    gen = newest >= 0 ? cur.generation + 1u : 1u;
    base = (uint32_t)target * slot_bytes(hal);
    /* erase the header first: from now on the target slot is invalid */
    if (hal->flash_erase(hal->flash_ctx, base, EL_SLOT_HEADER_BYTES) != 0 ||
        hal->flash_erase(hal->flash_ctx, base + EL_SLOT_HEADER_BYTES, n) != 0 ||
        hal->flash_program(hal->flash_ctx, base + EL_SLOT_HEADER_BYTES, data, n) != 0 ||
        hal->flash_read(hal->flash_ctx, base + EL_SLOT_HEADER_BYTES, verify, n) != 0) {
        return -1;
    }
    crc = el_crc32(0, data, n);
    if (el_crc32(0, verify, n) != crc) {
        return -1;
    }
    for (i = 0; i < sizeof h; ++i) {
        h[i] = 0xFF;
    }
    for (i = 0; i < 4; ++i) {
        h[i] = k_magic[i];
    }
    el_put_u32(h + 4, gen);
    el_put_u32(h + 8, n);
    el_put_u32(h + 12, crc);
    el_put_u32(h + 16, el_crc32(0, h, 16));
    /* the commit: the last byte written is the header CRC's last (the rest stays erased) */
    if (hal->flash_program(hal->flash_ctx, base, h, EL_SLOT_COMMIT_BYTES) != 0) {
        return -1;
    }
    {
        el_slot_info_t chk = el_slots_probe(hal, target, verify, cap);
        if (!chk.valid || chk.generation != gen) {
            return -1;
        }
    }
    *slot = target;
    *generation = gen;
    return 0;
}

int el_slots_read(const el_hal_t *hal, int slot, uint8_t *buf, uint32_t n)
{
    return hal->flash_read(hal->flash_ctx,
                           (uint32_t)slot * slot_bytes(hal) + EL_SLOT_HEADER_BYTES, buf, n);
}
