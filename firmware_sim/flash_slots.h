/**
 * @file flash_slots.h
 * @brief Two-slot model storage over the HAL's flash: a SAVE interrupted at any byte never
 *        loses the newest good copy.
 *
 * The flash is split in two equal slots. A slot is a 32-byte header followed by the data:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | magic `ELFS` |
 * | 4 | 4 | generation (grows by one per save) |
 * | 8 | 4 | data length |
 * | 12 | 4 | CRC-32 of the data |
 * | 16 | 4 | CRC-32 of bytes 0..15 |
 * | 20 | 12 | 0xFF (erased) |
 *
 * A save goes to the slot that does not hold the newest valid copy: erase it (header first, so
 * it is invalid from the first byte on), program the data, read it back and check its CRC,
 * then program the header's 20 bytes, whose last is the header CRC's last byte: the commit. A slot is valid only if its header CRC and its data CRC match, so
 * until the header's last byte is written the old slot stays the newest valid one.
 */
#ifndef EL_FW_FLASH_SLOTS_H
#define EL_FW_FLASH_SLOTS_H

#include <stdint.h>

#include "hal.h"

#define EL_SLOT_HEADER_BYTES 32u
#define EL_SLOT_COMMIT_BYTES 20u /**< header bytes programmed (0..19); the rest stays erased */

/** A slot's header as read (valid: magic, header CRC and data CRC all good). */
typedef struct el_slot_info {
    uint32_t generation;
    uint32_t length;
    uint32_t crc;
    int valid;
} el_slot_info_t;

/** Data bytes one slot holds (0 without flash). */
uint32_t el_slots_capacity(const el_hal_t *hal);

/** Inspect slot @p slot (0 or 1); reads the data into @p buf (@p cap bytes; a longer copy
 *  counts as invalid) to check its CRC. */
el_slot_info_t el_slots_probe(const el_hal_t *hal, int slot, uint8_t *buf, uint32_t cap);

/** The slot with the newest valid copy, or -1. @p buf: scratch of @p cap bytes. */
int el_slots_newest(const el_hal_t *hal, uint8_t *buf, uint32_t cap, el_slot_info_t *info);

/**
 * Save @p n bytes as a new generation. @p verify: scratch of @p cap (>= n) bytes for the
 * read-back. Returns 0 and fills *slot / *generation, or -1 (flash error, too big, verify
 * mismatch).
 */
int el_slots_save(const el_hal_t *hal, const uint8_t *data, uint32_t n, uint8_t *verify,
                  uint32_t cap, int *slot, uint32_t *generation);

/** Read slot @p slot's data (length from its header) to @p buf at offset 0. 0 or -1. */
int el_slots_read(const el_hal_t *hal, int slot, uint8_t *buf, uint32_t n);

#endif /* EL_FW_FLASH_SLOTS_H */
