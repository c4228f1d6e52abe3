/* Cortex-M4 build of the firmware for QEMU's mps2-an386 board: the application over the CMSDK
 * APB UART0 (0x40004000; facts in /work/shared/EMBEDDED.md), a 1 ms SysTick clock, and flash
 * emulated by a memory region (.nvm, see cortexm.ld; ram_flash.c) with two slots. The core
 * sleeps (WFI) while no byte is waiting; the UART's RX interrupt or the tick wakes it. */
#include "app.h"
#include "ram_flash.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_INTSTATUS (*(volatile uint32_t *)(UART0_BASE + 0x0Cu))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u
#define UART_CTRL_TXEN 1u
#define UART_CTRL_RXEN 2u
#define UART_CTRL_RXINTEN 8u
#define UART_INT_RX 2u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define SYSCLK_HZ 25000000u

#define IMAGE_BYTES (256u * 1024u)
#define ARENA_BYTES (1536u * 1024u)
#define QUEUE_EVENTS 4096u
#define MAX_RUN_STEPS 100000u
#define FLASH_BYTES (2u * (IMAGE_BYTES + 64u))

static uint8_t g_arena[ARENA_BYTES] __attribute__((aligned(64)));
static uint8_t g_image[2][IMAGE_BYTES] __attribute__((aligned(8)));
static el_event_t g_queue[QUEUE_EVENTS];
static el_app_t g_app;
static uint8_t g_flash[FLASH_BYTES] __attribute__((section(".nvm"), aligned(4)));
static el_ram_flash_t g_nvm = {g_flash, sizeof g_flash};
static volatile uint32_t g_ms;

void SysTick_Handler(void);
void UART0_RX_Handler(void);

void SysTick_Handler(void)
{
    g_ms++;
}

void UART0_RX_Handler(void)
{
    UART_INTSTATUS = UART_INT_RX; /* the byte stays in DATA for the main loop */
}

static size_t hal_read(void *ctx, uint8_t *buf, size_t n)
{
    size_t got = 0;
    (void)ctx;
    while (got < n && (UART_STATE & UART_STATE_RXFULL)) {
        buf[got++] = (uint8_t)UART_DATA;
    }
    if (got == 0) {
        __asm volatile("cpsid i" ::: "memory");
        if (!(UART_STATE & UART_STATE_RXFULL)) {
            __asm volatile("wfi" ::: "memory");
        }
        __asm volatile("cpsie i" ::: "memory");
    }
    return got;
}

static void hal_write(void *ctx, const uint8_t *buf, size_t n)
{
    (void)ctx;
    while (n--) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = *buf++;
    }
}

static uint32_t hal_now_ms(void *ctx)
{
    (void)ctx;
    return g_ms;
}

int main(void)
{
    const el_app_mem_t mem = EL_APP_MEM(g_arena, g_image, g_queue, MAX_RUN_STEPS);
    el_hal_t hal;
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
    NVIC_ISER0 = 1u; /* UART0 RX: IRQ 0 */
    SYST_RVR = SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    hal.ctx = 0;
    hal.read = hal_read;
    hal.write = hal_write;
    hal.now_ms = hal_now_ms;
    el_ram_flash_attach(&hal, &g_nvm);
    el_app_init(&g_app, &hal, &mem);
    for (;;) {
        el_app_poll(&g_app);
    }
}
