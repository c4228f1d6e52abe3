/**
 * @file ram_flash.h
 * @brief A flash emulated by bytes in memory, for the HAL (hal.h): the Cortex-M build's .nvm
 *        region (hal_cortexm.c) and the in-process test programs (tests/).
 *
 * Erase sets bytes to 0xFF, program writes any byte pattern (as hal.h allows), read copies;
 * a range that does not lie inside the flash is refused (-1) and nothing is touched.
 */
#ifndef EL_FW_RAM_FLASH_H
#define EL_FW_RAM_FLASH_H

#include <stdint.h>

#include "hal.h"

typedef struct el_ram_flash {
    uint8_t *bytes; /**< the flash's contents */
    uint32_t size;  /**< and their number */
} el_ram_flash_t;

/** Give @p hal the flash @p flash: flash_ctx, flash_bytes and the three calls below. */
void el_ram_flash_attach(el_hal_t *hal, el_ram_flash_t *flash);

/** The HAL's flash calls; @p flash is an ::el_ram_flash_t. 0, or -1 for a range outside. */
int el_ram_flash_read(void *flash, uint32_t addr, uint8_t *buf, uint32_t n);
int el_ram_flash_erase(void *flash, uint32_t addr, uint32_t n);
int el_ram_flash_program(void *flash, uint32_t addr, const uint8_t *buf, uint32_t n);

#endif /* EL_FW_RAM_FLASH_H */
