/* Power cuts at every byte of a SAVE, in-process (ASan + UBSan): the two-slot store
 * (flash_slots.c) over a RAM flash whose writes stop at byte N of the save, the byte being cut
 * left with a random value (a half-programmed cell). After each cut the flash is "rebooted":
 * the newest valid slot must be the previous good copy, byte for byte, and the application
 * booting on that flash (el_app_init) must load it and run it. Then the same after a completed
 * save, so both slots take their turn as the target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "artifact_vectors.h" /* csrc/tests: images written by edgelearn.artifact */
#include "flash_slots.h"
#include "ram_flash.h"
#include "test_util.h"        /* csrc/tests: checks, the generator */

#define IMG (16u * 1024u)
#define FLASH (2u * (IMG + 64u))

static uint8_t g_flash[FLASH];
static el_ram_flash_t g_ram_flash = {g_flash, sizeof g_flash};
static long g_budget; /* bytes the "power" lasts for; -1: forever */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint8_t rnd8(void)
{
    return (uint8_t)(xorshift64(&g_rng) >> 24);
}

static int put(uint32_t a, const uint8_t *b, uint8_t fill, uint32_t n)
{
    uint32_t i;
    if ((uint64_t)a + n > FLASH) {
        return -1;
    }
    for (i = 0; i < n; ++i) {
        if (g_budget == 0) {
            g_flash[a + i] = rnd8(); /* the cell being written when the power went */
            g_budget = -2;           /* dead: nothing more is written */
            return -1;
        }
        if (g_budget == -2) {
            return -1;
        }
        g_flash[a + i] = b ? b[i] : fill;
        if (g_budget > 0) {
            g_budget--;
        }
    }
    return 0;
}

static size_t h_read(void *c, uint8_t *b, size_t n)
{
    (void)c;
    (void)b;
    (void)n;
    return 0;
}
static void h_write(void *c, const uint8_t *b, size_t n)
{
    (void)c;
    (void)b;
    (void)n;
}
static uint32_t h_now(void *c)
{
    (void)c;
    return 0;
}
static int h_ferase(void *c, uint32_t a, uint32_t n)
{
    (void)c;
    return put(a, NULL, 0xFF, n);
}
static int h_fprog(void *c, uint32_t a, const uint8_t *b, uint32_t n)
{
    (void)c;
    return put(a, b, 0, n);
}

static el_hal_t g_hal;
static uint8_t g_buf[IMG];
static uint8_t g_arena[1u << 20] __attribute__((aligned(64)));
static uint8_t g_image[2][IMG] __attribute__((aligned(8)));
static el_event_t g_queue[64];
static el_app_t g_app;

/* Reboot on the flash as it is: the newest copy must be `want`, and the app must run it. */
static void check_boot(const unsigned char *want, uint32_t len, uint32_t gen)
{
    el_slot_info_t info;
    const el_app_mem_t mem = EL_APP_MEM(g_arena, g_image, g_queue, 16);
    int slot = el_slots_newest(&g_hal, g_buf, sizeof g_buf, &info);
    CHECK(slot >= 0 && info.length == len && info.generation == gen);
    if (slot >= 0 && info.length == len) {
        CHECK(el_slots_read(&g_hal, slot, g_buf, len) == 0 && memcmp(g_buf, want, len) == 0);
    }
    el_app_init(&g_app, &g_hal, &mem);
    CHECK(g_app.core != NULL && g_app.img_len == len && memcmp(g_app.img, want, len) == 0);
    CHECK(g_app.generation == gen);
    if (g_app.core != NULL) {
        CHECK(el_core_step(g_app.core, NULL) == EL_OK);
    }
}

int main(void)
{
    const unsigned char *blob[2] = {k_art_static, k_art_plastic};
    uint32_t len[2] = {(uint32_t)sizeof k_art_static, (uint32_t)sizeof k_art_plastic};
    static uint8_t before[FLASH];
    unsigned long cuts = 0;
    uint32_t gen = 0;
    int good = 0, round;
    g_hal.read = h_read;
    g_hal.write = h_write;
    g_hal.now_ms = h_now;
    el_ram_flash_attach(&g_hal, &g_ram_flash);
    g_hal.flash_erase = h_ferase; /* writes that the power cut can stop */
    g_hal.flash_program = h_fprog;
    memset(g_flash, 0xFF, sizeof g_flash);
    g_budget = -1;
    {
        int slot;
        CHECK(el_slots_save(&g_hal, blob[0], len[0], g_buf, sizeof g_buf, &slot, &gen) == 0);
        CHECK(slot == 0 && gen == 1);
    }
    for (round = 0; round < 3; ++round) {
        int next = 1 - good;
        uint32_t total = 32u + len[next] + len[next] + EL_SLOT_COMMIT_BYTES, n;
        for (n = 0; n < total; ++n) {
            int slot = -1;
            uint32_t g = 0;
            memcpy(before, g_flash, sizeof g_flash);
            g_budget = (long)n;
            CHECK(el_slots_save(&g_hal, blob[next], len[next], g_buf, sizeof g_buf, &slot, &g) != 0);
            g_budget = -1;
            check_boot(blob[good], len[good], gen);
            cuts++;
            memcpy(g_flash, before, sizeof g_flash);
        }
        { /* the whole save: the newest copy moves to the other slot */
            int slot = -1;
            uint32_t g = 0;
            g_budget = (long)total; /* exactly enough */
            CHECK(el_slots_save(&g_hal, blob[next], len[next], g_buf, sizeof g_buf, &slot, &g) == 0);
            g_budget = -1;
            CHECK(g == gen + 1);
            gen = g;
            good = next;
            check_boot(blob[good], len[good], gen);
        }
    }
    if (test_failures) {
        fprintf(stderr, "test_flash: %d failures\n", test_failures);
        return 1;
    }
    printf("test_flash: power cut at each of %lu byte positions of 3 SAVEs (both slots): the "
           "last good copy always boots\n", cuts);
    return 0;
}
