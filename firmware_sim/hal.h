/**
 * @file hal.h
 * @brief The firmware's hardware abstraction: a serial byte stream, a millisecond clock and a
 *        small flash. One implementation per target: hal_posix.c (pty or 127.0.0.1 TCP, flash in
 *        a file) and hal_cortexm.c (CMSDK UART0 of the QEMU mps2-an386 board, flash in a RAM
 *        region, ram_flash.c). The application (app.c) sees only this struct.
 */
#ifndef EL_FW_HAL_H
#define EL_FW_HAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct el_hal {
    void *ctx;
    /** Read up to @p n received bytes; may wait a little (<= ~10 ms) when none are there.
     *  Returns the number read (0: nothing yet). */
    size_t (*read)(void *ctx, uint8_t *buf, size_t n);
    /** Send all @p n bytes (blocks until they are handed to the link). */
    void (*write)(void *ctx, const uint8_t *buf, size_t n);
    /** Milliseconds since boot (wraps). */
    uint32_t (*now_ms)(void *ctx);
    /** Flash of flash_bytes (0: none); its calls get flash_ctx (which may be ctx). Erase sets
     *  bytes to 0xFF; program writes bytes (the emulations allow any byte pattern). All return
     *  0 on success. */
    void *flash_ctx;
    uint32_t flash_bytes;
    int (*flash_read)(void *flash_ctx, uint32_t addr, uint8_t *buf, uint32_t n);
    int (*flash_erase)(void *flash_ctx, uint32_t addr, uint32_t n);
    int (*flash_program)(void *flash_ctx, uint32_t addr, const uint8_t *buf, uint32_t n);
} el_hal_t;

#endif /* EL_FW_HAL_H */
