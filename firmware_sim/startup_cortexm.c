/* Start-up code of the Cortex-M4 firmware: vector table, reset handler (copy .data, zero
 * .bss, call main), default fault handler, and the memory primitives the compiler may call
 * (the image links no C library). */
#include <stddef.h>
#include <stdint.h>

#include "el_memfns.h" /* memcpy & co: this image has no libc */

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UART0_RX_Handler(void);

void Default_Handler(void)
{
    for (;;) {
    }
}

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    (void)main();
    for (;;) {
    }
}

typedef void (*vector_t)(void);

/* 16 system exceptions, then the board's interrupts (UART0 RX is IRQ 0). */
__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + 32] = {
    (vector_t)(uintptr_t)&_estack, Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler,
    Default_Handler, 0, Default_Handler, SysTick_Handler,
    UART0_RX_Handler,
};

