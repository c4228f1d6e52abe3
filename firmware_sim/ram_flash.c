/* A flash in memory (ram_flash.h). */
#include "ram_flash.h"

#include "el_port.h"

/* The flash's bytes at [addr, addr + n), or NULL if the range does not lie inside it. */
static uint8_t *at(void *flash, uint32_t addr, uint32_t n)
{
    el_ram_flash_t *f = (el_ram_flash_t *)flash;
    return (uint64_t)addr + n > f->size ? NULL : f->bytes + addr;
}

void el_ram_flash_attach(el_hal_t *hal, el_ram_flash_t *flash)
{
    hal->flash_ctx = flash;
    hal->flash_bytes = flash->size;
    hal->flash_read = el_ram_flash_read;
    hal->flash_erase = el_ram_flash_erase;
    hal->flash_program = el_ram_flash_program;
}

int el_ram_flash_read(void *flash, uint32_t addr, uint8_t *buf, uint32_t n)
{
    const uint8_t *p = at(flash, addr, n);
    if (p == NULL) {
        return -1;
    }
    el_memcpy(buf, p, n);
    return 0;
}

int el_ram_flash_erase(void *flash, uint32_t addr, uint32_t n)
{
    uint8_t *p = at(flash, addr, n);
    if (p == NULL) {
        return -1;
    }
    el_memset(p, 0xFF, n);
    return 0;
}

int el_ram_flash_program(void *flash, uint32_t addr, const uint8_t *buf, uint32_t n)
{
    uint8_t *p = at(flash, addr, n);
    if (p == NULL) {
        return -1;
    }
    el_memcpy(p, buf, n);
    return 0;
}
