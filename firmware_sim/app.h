/**
 * @file app.h
 * @brief The firmware application: the serial protocol (docs/protocol.md) served over a HAL,
 *        driving the C runtime (el_core) with a model loaded from an artifact (el_artifact).
 *
 * Memory: everything lives in an ::el_app_t and in the buffers of ::el_app_mem_t, which the
 * target's main() provides (static arrays sized for the board). Nothing is allocated.
 *
 * Use: el_app_init() once (it restores the newest saved model from flash, if any), then call
 * el_app_poll() forever; it reads what the HAL has, answers complete requests and returns.
 * el_app_input() handles given bytes (tests and fuzzers drive the app through it).
 */
#ifndef EL_FW_APP_H
#define EL_FW_APP_H

#include <stddef.h>
#include <stdint.h>

#include "edgelearn.h"
#include "hal.h"

#define EL_FW_VERSION_MAJOR 0
#define EL_FW_VERSION_MINOR 1
#define EL_FW_VERSION_PATCH 0

/** Buffers the target provides. */
typedef struct el_app_mem {
    uint8_t *arena;          /**< the core's block and per-neuron arrays; aligned to 64 */
    size_t arena_bytes;
    uint8_t *image[2];       /**< two artifact buffers (running model, LOAD staging); 8-aligned */
    size_t image_bytes;      /**< size of each; the largest artifact is image_bytes - 8 */
    el_event_t *queue;       /**< event queue */
    uint32_t queue_cap;
    uint32_t max_run_steps;  /**< largest RUN */
} el_app_mem_t;

/** An ::el_app_mem_t over a target's static arrays, sized from them: the arena @p a
 *  (uint8_t[]), the two image buffers @p im (uint8_t[2][N]), the event queue @p q (el_event_t[])
 *  and the largest RUN @p steps. */
#define EL_APP_MEM(a, im, q, steps)                                                    \
    {                                                                                  \
        .arena = (a), .arena_bytes = sizeof(a), .image = {(im)[0], (im)[1]},           \
        .image_bytes = sizeof((im)[0]), .queue = (q),                                  \
        .queue_cap = (uint32_t)(sizeof(q) / sizeof((q)[0])), .max_run_steps = (steps) \
    }

/** Counters, for tests and diagnostics. */
typedef struct el_app_stats {
    uint32_t requests;       /**< requests executed */
    uint32_t repeats;        /**< retransmissions answered from the cache */
    uint32_t errors_sent;    /**< ERROR frames sent */
    uint32_t rx_errors;      /**< frames the receiver rejected */
} el_app_stats_t;

typedef struct el_app {
    const el_hal_t *hal;
    el_app_mem_t mem;
    el_rx_t rx;
    el_proto_dedup_t dedup;
    uint8_t tx[EL_PROTO_MAX_WIRE];   /**< the last response, also the retransmission cache */
    size_t tx_len;
    uint8_t payload[EL_PROTO_MAX_PAYLOAD];
    /* the running model */
    el_artifact_t art;
    int active;                      /**< index of the running image buffer */
    uint8_t *img;                    /**< the running image (payload 4-aligned) */
    uint32_t img_len;
    el_core_t *core;
    uint32_t n_neurons, n_inputs;
    uint32_t *counts;                /**< spike counts per neuron */
    uint8_t *in_spikes;              /**< dense input of one step */
    int8_t *third;                   /**< third factor per neuron */
    uint8_t *scratch;                /**< the rest of the arena */
    size_t scratch_bytes;
    uint32_t out_pop;                /**< population RUN counts (readout's, else the last) */
    int learning;
    /* LOAD in progress */
    int loading;
    uint32_t load_total, load_crc, load_got;
    /* event queue (ring) */
    uint32_t q_head, q_count, q_last_t;
    /* flash */
    uint32_t generation;
    el_app_stats_t stats;
} el_app_t;

/** Initialise and restore the newest saved model (if any). */
void el_app_init(el_app_t *app, const el_hal_t *hal, const el_app_mem_t *mem);

/** Handle received bytes: answer every request they complete (through hal->write). */
void el_app_input(el_app_t *app, const uint8_t *data, size_t n);

/** Read what the HAL has (hal->read) and handle it. */
void el_app_poll(el_app_t *app);

/** Forget the receiver's partial frame (a host (re)connected). The retransmission cache is kept:
 *  a host that lost the link mid-request resends the same bytes and must not run them twice. */
void el_app_link_reset(el_app_t *app);

#endif /* EL_FW_APP_H */
