/* Host build of the firmware: the application over a pseudo-terminal or a 127.0.0.1 TCP port,
 * with its flash in a file.
 *
 *   edgelearn_fw (--pty | --tcp 127.0.0.1:PORT) [--flash FILE]
 *
 * Prints one line "READY <url>" on stdout once it serves (url: the pty path, or
 * socket://127.0.0.1:PORT; PORT 0 picks a free port), then serves until SIGINT/SIGTERM.
 * A TCP host may disconnect and connect again at any time.
 *
 * Power-cut emulation: with EL_FLASH_CUT_AFTER=N in the environment the process dies
 * (_exit(86), nothing flushed beyond what was written) once N flash bytes (erased or
 * programmed, counted from start-up) have been written, in the middle of a write.
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

#define IMAGE_BYTES (4u << 20)
#define ARENA_BYTES (64u << 20)
#define QUEUE_EVENTS 65536u
#define MAX_RUN_STEPS 1000000u
#define FLASH_BYTES (2u * (IMAGE_BYTES + 64u))

static _Alignas(64) uint8_t g_arena[ARENA_BYTES];
static _Alignas(64) uint8_t g_image[2][IMAGE_BYTES];
static el_event_t g_queue[QUEUE_EVENTS];
static el_app_t g_app;
static volatile sig_atomic_t g_stop;

typedef struct posix_ctx {
    int listen_fd; /* TCP: the listening socket, else -1 */
    int fd;        /* the connected stream (pty master or TCP client), -1 when none */
    int pty_slave; /* kept open so the master never sees a hang-up */
    int flash_fd;
    long long cut_after; /* -1: never */
    long long written;
} posix_ctx_t;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void drop_client(posix_ctx_t *c)
{
    if (c->listen_fd >= 0 && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        el_app_link_reset(&g_app);
    }
}

static size_t hal_read(void *ctx, uint8_t *buf, size_t n)
{
    posix_ctx_t *c = (posix_ctx_t *)ctx;
    struct pollfd p;
    ssize_t got;
    if (c->fd < 0) { /* TCP: wait for a client */
        p.fd = c->listen_fd;
        p.events = POLLIN;
        if (poll(&p, 1, 50) > 0) {
            int one = 1;
            c->fd = accept(c->listen_fd, NULL, NULL);
            if (c->fd >= 0) {
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                el_app_link_reset(&g_app);
            }
        }
        return 0;
    }
    p.fd = c->fd;
    p.events = POLLIN;
    if (poll(&p, 1, 10) <= 0) {
        return 0;
    }
    got = read(c->fd, buf, n);
    if (got > 0) {
        return (size_t)got;
    }
    if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        drop_client(c);
    }
    return 0;
}

static void hal_write(void *ctx, const uint8_t *buf, size_t n)
{
    posix_ctx_t *c = (posix_ctx_t *)ctx;
    while (n > 0 && c->fd >= 0) {
        ssize_t put = c->listen_fd >= 0 ? send(c->fd, buf, n, MSG_NOSIGNAL) : write(c->fd, buf, n);
        if (put < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            drop_client(c);
            return;
        }
        buf += put;
        n -= (size_t)put;
    }
}

static uint32_t hal_now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static int flash_read(void *ctx, uint32_t addr, uint8_t *buf, uint32_t n)
{
    posix_ctx_t *c = (posix_ctx_t *)ctx;
    ssize_t got;
    if ((uint64_t)addr + n > FLASH_BYTES) {
        return -1;
    }
    got = pread(c->flash_fd, buf, n, (off_t)addr);
    if (got < 0) {
        return -1;
    }
    if ((uint32_t)got < n) { /* past the file's end: erased */
        memset(buf + got, 0xFF, n - (uint32_t)got);
    }
    return 0;
}

/* Write with the power-cut budget: the part that fits, then die. */
static int flash_put(posix_ctx_t *c, uint32_t addr, const uint8_t *buf, uint32_t n)
{
    uint32_t allowed = n;
    if ((uint64_t)addr + n > FLASH_BYTES) {
        return -1;
    }
    if (c->cut_after >= 0 && c->written + n > c->cut_after) {
        allowed = (uint32_t)(c->cut_after - c->written);
    }
    if (allowed > 0 && pwrite(c->flash_fd, buf, allowed, (off_t)addr) != (ssize_t)allowed) {
        return -1;
    }
    c->written += allowed;
    if (allowed < n) {
        _exit(86);
    }
    return 0;
}

static int flash_erase(void *ctx, uint32_t addr, uint32_t n)
{
    uint8_t block[4096];
    memset(block, 0xFF, sizeof block);
    while (n > 0) {
        uint32_t k = n < sizeof block ? n : (uint32_t)sizeof block;
        if (flash_put((posix_ctx_t *)ctx, addr, block, k) != 0) {
            return -1;
        }
        addr += k;
        n -= k;
    }
    return 0;
}

static int flash_program(void *ctx, uint32_t addr, const uint8_t *buf, uint32_t n)
{
    return flash_put((posix_ctx_t *)ctx, addr, buf, n);
}

static int usage(void)
{
    fprintf(stderr, "usage: edgelearn_fw (--pty | --tcp 127.0.0.1:PORT) [--flash FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static posix_ctx_t ctx;
    const el_app_mem_t mem = EL_APP_MEM(g_arena, g_image, g_queue, MAX_RUN_STEPS);
    el_hal_t hal;
    const char *tcp = NULL, *flash = NULL, *cut;
    int pty = 0, i;
    char url[256];
    for (i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--pty") == 0) {
            pty = 1;
        } else if (strcmp(argv[i], "--tcp") == 0 && i + 1 < argc) {
            tcp = argv[++i];
        } else if (strcmp(argv[i], "--flash") == 0 && i + 1 < argc) {
            flash = argv[++i];
        } else {
            return usage();
        }
    }
    if (pty == (tcp != NULL)) {
        return usage();
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    ctx.listen_fd = -1;
    ctx.fd = -1;
    ctx.pty_slave = -1;
    ctx.flash_fd = -1;
    ctx.cut_after = -1;
    cut = getenv("EL_FLASH_CUT_AFTER");
    if (cut != NULL && *cut) {
        ctx.cut_after = atoll(cut);
    }
    if (flash != NULL) {
        ctx.flash_fd = open(flash, O_RDWR | O_CREAT, 0644);
        if (ctx.flash_fd < 0) {
            perror(flash);
            return 1;
        }
    }
    if (pty) {
        struct termios t;
        const char *name;
        ctx.fd = posix_openpt(O_RDWR | O_NOCTTY);
        if (ctx.fd < 0 || grantpt(ctx.fd) != 0 || unlockpt(ctx.fd) != 0 ||
            (name = ptsname(ctx.fd)) == NULL) {
            perror("pty");
            return 1;
        }
        snprintf(url, sizeof url, "%s", name);
        ctx.pty_slave = open(name, O_RDWR | O_NOCTTY);
        if (ctx.pty_slave < 0 || tcgetattr(ctx.pty_slave, &t) != 0) {
            perror(name);
            return 1;
        }
        cfmakeraw(&t);
        tcsetattr(ctx.pty_slave, TCSANOW, &t);
    } else {
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        char host[64];
        unsigned port = 0;
        int one = 1;
        const char *colon = strrchr(tcp, ':');
        if (colon == NULL || (size_t)(colon - tcp) >= sizeof host ||
            sscanf(colon + 1, "%u", &port) != 1 || port > 65535) {
            return usage();
        }
        memcpy(host, tcp, (size_t)(colon - tcp));
        host[colon - tcp] = 0;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || ntohl(a.sin_addr.s_addr) >> 24 != 127) {
            fprintf(stderr, "edgelearn_fw: --tcp serves loopback only (127.x.x.x), got %s\n", host);
            return 2;
        }
        ctx.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(ctx.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ctx.listen_fd < 0 || bind(ctx.listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            listen(ctx.listen_fd, 1) != 0 ||
            getsockname(ctx.listen_fd, (struct sockaddr *)&a, &alen) != 0) {
            perror("tcp");
            return 1;
        }
        snprintf(url, sizeof url, "socket://%s:%u", host, (unsigned)ntohs(a.sin_port));
    }
    hal.ctx = &ctx;
    hal.read = hal_read;
    hal.write = hal_write;
    hal.now_ms = hal_now_ms;
    hal.flash_ctx = &ctx;
    hal.flash_bytes = ctx.flash_fd >= 0 ? FLASH_BYTES : 0u;
    hal.flash_read = flash_read;
    hal.flash_erase = flash_erase;
    hal.flash_program = flash_program;
    el_app_init(&g_app, &hal, &mem);
    printf("READY %s\n", url);
    fflush(stdout);
    while (!g_stop) {
        el_app_poll(&g_app);
    }
    return 0;
}
