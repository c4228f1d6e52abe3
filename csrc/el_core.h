/**
 * @file el_core.h
 * @brief Networks of Loihi-like LIF compartments and their timestep (docs/spec.md sections 3-4).
 *
 * ## Memory model
 *
 * The caller describes a network with an ::el_core_desc_t (populations, connections, pointers to
 * its own arrays), asks el_core_bytes() how much memory the core needs, provides one block of
 * that many bytes (aligned to ::EL_CORE_ALIGN) and calls el_core_init(). The core lives entirely
 * inside that block: its header, a packed copy of every weight and bias, the state (u, v,
 * refractory counts, spikes), the spike event lists and the accumulators. Nothing points back
 * into the descriptor, so the descriptor and its arrays may be freed (or live in flash) after
 * el_core_init(). The block must not be moved or copied after init (it holds pointers into
 * itself); it is released simply by freeing it. No function allocates or keeps static state.
 *
 * ## Weight storage (packed by el_core_init)
 *
 * Descriptors give weights as in docs/spec.md: dense row-major `w[i * n_src + j]` (destination
 * i, source j), sparse CSR over destinations. The core stores them **source-major** so that a
 * spike of source j adds one contiguous row:
 *  - dense: `n_src` rows of `stride` int8 (stride = n_dst rounded up to ::EL_CORE_ROW_ALIGN; the
 *    padding is zero), row j holding w'_{.,j};
 *  - sparse: CSC: `colptr[n_src + 1]`, then per source the destinations `rowidx[]` (ascending)
 *    and the values `w[]`.
 * Stored values are the *effective* mantissas w' (mixed-sign truncation already applied).
 *
 * ## The step (event-driven)
 *
 * el_core_step() first, for every connection whose source spiked at t-1, zeroes the
 * connection's int32 accumulator and adds the packed row of each source that spiked (work
 * proportional to the number of synaptic events; dense rows are added eight or four at a time,
 * summed in int16 -- |sum| <= 8 * 128 -- and widened once, so the accumulators are read and
 * written once per eight events; exact, since every partial sum is an integer that fits); then
 * updates every compartment (spec section 4, steps 2-5; a branch-free loop); then records this
 * step's input spikes as an event list for the next step (one-step latency).
 *
 * ## Plastic connections (docs/spec.md section 5; el_learn.h)
 *
 * A connection with ::EL_CONN_PLASTIC carries rule microcode (::el_conn_desc_t.rule, checked by
 * el_rule_load()). The core's block then also holds, per plastic connection, an ::el_plastic_t
 * (full weight mantissas, tags, traces x1 x2 / y1 y2 y3, epoch bits x0 / y0), one shared int32
 * scratch area for the learning epoch, and per neuron a third factor r in [-128, 127]
 * (el_core_set_third()). After the compartments of step t (numbered from 1) and the recording
 * of its input spikes, every plastic connection updates its traces with step t's spikes (the
 * input port's spikes given AT step t, a population's spikes OF step t) and, when
 * t mod t_epoch == 0 and learning is on (el_core_set_learning(); on after init), runs its rule.
 * The packed weights stay the *delivery* copy (w', truncated in mixed mode, source-major); the
 * plasticity processor keeps the full mantissas in the same layout and rewrites both after each
 * epoch, so the updated weights carry step t's spikes at t + 1.
 *
 * ## Third factors computed by designated neurons (spec 5.3)
 *
 * A population with ::EL_POP_THIRD_COMPUTED takes its third factors from the current u of the
 * neurons of another population of the same size (el_pop_desc_t.third_src, itself allowed):
 * after the compartments of every step, r_i = clamp(shr(u_i, third_shift), -128, 127), before
 * the learning epoch reads it. The host does not write these: el_core_set_third() and
 * el_core_run_third() refuse a non-zero value for one of them.
 *
 * ## Room for later features
 *
 * ::EL_CONN_GRADED (graded spike payloads) is a reserved flag of ::el_conn_desc_t.flags; this
 * build rejects it with ::EL_ERR_UNSUPPORTED. The other bits of `el_pop_desc_t.flags` are
 * reserved (must be 0). Input spike values other than 0/1 are reserved for graded spikes
 * (currently any non-zero byte is a binary spike).
 */
#ifndef EL_CORE_H
#define EL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "el_config.h"
#include "el_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Required alignment (bytes) of the memory block passed to el_core_init(). */
#define EL_CORE_ALIGN 8
/** Internal alignment (bytes) of every array inside the core's block. */
#define EL_CORE_ARRAY_ALIGN 64
/** Dense packed rows are padded to a multiple of this many destinations. */
#define EL_CORE_ROW_ALIGN 16

/** ::el_conn_desc_t.src value naming the input port (otherwise a population index). */
#define EL_SRC_INPUT (-1)

/** ::el_conn_desc_t.kind: dense `n_dst x n_src` weight matrix. */
#define EL_CONN_DENSE 0
/** ::el_conn_desc_t.kind: sparse CSR matrix (indptr over destinations, indices = sources). */
#define EL_CONN_SPARSE 1

/** ::el_conn_desc_t.flags: mixed-sign mode, w' = shr(w, 1) * 2 (spec section 3). */
#define EL_CONN_MIXED 1u
/** ::el_conn_desc_t.flags: plastic: the weights are updated by the connection's rule. */
#define EL_CONN_PLASTIC 2u
/** ::el_conn_desc_t.flags: reserved for graded spikes (not yet supported). */
#define EL_CONN_GRADED 4u
/** Every flag this build accepts. */
#define EL_CONN_FLAGS_SUPPORTED (EL_CONN_MIXED | EL_CONN_PLASTIC)

/** ::el_pop_desc_t.flags: the population's third factor is computed by designated neurons
 *  (spec 5.3): r_i = clamp(shr(u_i of population third_src, third_shift), -128, 127). */
#define EL_POP_THIRD_COMPUTED 1u
/** Every population flag this build accepts. */
#define EL_POP_FLAGS_SUPPORTED EL_POP_THIRD_COMPUTED

/** One population of compartments (spec section 3). */
typedef struct el_pop_desc {
    uint32_t size;            /**< neurons, [1, EL_MAX_NEURONS] */
    int32_t du;               /**< current decay, [0, EL_DECAY_MAX] (the step uses du + 1) */
    int32_t dv;               /**< voltage decay, [0, EL_DECAY_MAX] */
    int32_t vth_mant;         /**< threshold mantissa, [0, EL_VTH_MANT_MAX]; vth = vth_mant << 6 */
    int32_t bias_exp;         /**< bias exponent, [0, EL_BIAS_EXP_MAX] */
    int32_t refractory;       /**< refractory delay in steps, [1, EL_REFRACT_MAX]; 1 = none */
    const int16_t *bias_mant; /**< `size` bias mantissas in [EL_BIAS_MANT_MIN, EL_BIAS_MANT_MAX];
                                   NULL means all 0 */
    uint32_t flags;           /**< 0 or ::EL_POP_THIRD_COMPUTED (other bits reserved) */
    int32_t third_src;        /**< with ::EL_POP_THIRD_COMPUTED: the population (index) whose
                                   neurons' u give the third factors, of the same size (may be
                                   this one); without it, 0 */
    int32_t third_shift;      /**< with ::EL_POP_THIRD_COMPUTED: [0, EL_THIRD_SHIFT_MAX];
                                   without it, 0 */
} el_pop_desc_t;

/** One connection from a source (input port or population) to a destination population. */
typedef struct el_conn_desc {
    int32_t src;              /**< ::EL_SRC_INPUT or a population index; its size <= EL_MAX_FANIN */
    int32_t dst;              /**< destination population index */
    int32_t kind;             /**< ::EL_CONN_DENSE or ::EL_CONN_SPARSE */
    int32_t w_exp;            /**< weight exponent, [EL_WEIGHT_EXP_MIN, EL_WEIGHT_EXP_MAX] */
    uint32_t flags;           /**< ::EL_CONN_MIXED, ::EL_CONN_PLASTIC (others reserved) */
    const int8_t *weights;    /**< dense: n_dst * n_src mantissas, row-major (dst i, src j at
                                   i * n_src + j); sparse: nnz mantissas in CSR order.
                                   May be NULL only when it would hold 0 values. */
    const uint32_t *indptr;   /**< sparse only: n_dst + 1 offsets, indptr[0] = 0, non-decreasing;
                                   nnz = indptr[n_dst] <= n_dst * n_src */
    const uint32_t *indices;  /**< sparse only: nnz sources in [0, n_src), ascending and unique
                                   within each destination row */
    const uint8_t *rule;      /**< plastic only: rule microcode (edgelearn.rule.Rule.microcode),
                                   copied at init; ignored otherwise */
    uint32_t rule_len;        /**< plastic only: bytes at @p rule */
} el_conn_desc_t;

/** A whole network. */
typedef struct el_core_desc {
    uint32_t n_inputs;            /**< input axons, [0, EL_MAX_FANIN] */
    uint32_t n_pops;              /**< populations, [1, EL_MAX_POPULATIONS] */
    const el_pop_desc_t *pops;    /**< n_pops populations; neurons are numbered population by
                                       population in this order */
    uint32_t n_conns;             /**< connections, [0, EL_MAX_CONNECTIONS] */
    const el_conn_desc_t *conns;  /**< n_conns connections (NULL when n_conns is 0) */
    uint32_t seed;                /**< the PRNG seed of stochastic rounding (spec 5.1) */
} el_core_desc_t;

/** An initialised core; opaque, it lives at the start of the caller's memory block. */
typedef struct el_core el_core_t;

/**
 * @brief Check a descriptor and compute the bytes el_core_init() needs for it.
 * @param desc  the network (every field checked against its documented range)
 * @param bytes receives the size in bytes
 * @return ::EL_OK; ::EL_ERR_NULL (NULL argument or missing array), ::EL_ERR_RANGE (a field out of
 *         range), ::EL_ERR_FORMAT (bad CSR structure), ::EL_ERR_UNSUPPORTED (a reserved flag),
 *         ::EL_ERR_SIZE (the size does not fit size_t).
 */
el_status_t el_core_bytes(const el_core_desc_t *desc, size_t *bytes);

/**
 * @brief Build a core in caller memory: pack weights and biases, zero the state (t = 0).
 * @param desc  the network (see el_core_bytes; the same checks are made)
 * @param mem   block of at least el_core_bytes(desc) bytes, aligned to ::EL_CORE_ALIGN
 * @param bytes size of @p mem
 * @param core  receives the core handle (it equals @p mem)
 * @return ::EL_OK, any error of el_core_bytes(), ::EL_ERR_SIZE (@p bytes too small),
 *         ::EL_ERR_ALIGN (@p mem misaligned). On error @p *core is set to NULL when @p core is
 *         not NULL.
 */
el_status_t el_core_init(const el_core_desc_t *desc, void *mem, size_t bytes, el_core_t **core);

/**
 * @brief Return to t = 0: u = v = 0, no spikes, no refractory counts, no pending input;
 *        plastic connections' traces, epoch bits and tags 0, third factors 0. Weights (plastic
 *        ones as learned), the seed, the rules and the learning switch are kept.
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE (not an initialised core).
 */
el_status_t el_core_reset(el_core_t *core);

/**
 * @brief Advance one step, t -> t + 1 (spec section 4).
 * @param core      the core
 * @param in_spikes n_inputs bytes: non-zero where input axon j spikes AT this step (it enters u
 *                  at the next step). NULL means no input spikes.
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE.
 */
el_status_t el_core_step(el_core_t *core, const uint8_t *in_spikes);

/**
 * @brief Advance one step, with this step's input spikes given as a list of axons (for event
 *        streams: no dense byte vector needed). Same semantics as el_core_step().
 * @param core    the core
 * @param axons   the input axons spiking AT this step, strictly ascending, each in
 *                [0, n_inputs); may be NULL when @p n_axons is 0
 * @param n_axons number of axons, [0, n_inputs]
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (an axon out of range, or too
 *         many), ::EL_ERR_FORMAT (not strictly ascending). On error the core is unchanged.
 */
el_status_t el_core_step_events(el_core_t *core, const uint32_t *axons, uint32_t n_axons);

/**
 * @brief Run @p n_steps steps, recording outputs (the loop of el_core_step without per-step calls).
 * @param core    the core
 * @param raster  n_steps * n_inputs bytes, row-major: row k is the input of the (k+1)-th step
 *                of this call; may be NULL when n_inputs is 0 or n_steps is 0
 * @param n_steps number of steps, >= 0
 * @param out_s   NULL or n_steps * n_neurons bytes: row k = spikes (0/1) after step k+1
 * @param out_u   NULL or n_steps * n_neurons int32: u after each step
 * @param out_v   NULL or n_steps * n_neurons int32: v after each step
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_SIZE (the outputs' or the raster's
 *         size overflows size_t; checked before any step, so the core is unchanged).
 */
el_status_t el_core_run(el_core_t *core, const uint8_t *raster, size_t n_steps, uint8_t *out_s,
                        int32_t *out_u, int32_t *out_v);

/** @brief Neurons of all populations (0 for a NULL or uninitialised core). */
uint32_t el_core_n_neurons(const el_core_t *core);
/** @brief Input axons (0 for a NULL or uninitialised core). */
uint32_t el_core_n_inputs(const el_core_t *core);
/** @brief Steps taken since init/reset (0 for a NULL or uninitialised core). */
uint64_t el_core_time(const el_core_t *core);
/**
 * @brief Set the step counter, nothing else: the next step is step @p t + 1. The plasticity
 * processor sees its low 32 bits (spec 4: PRNG seed and learning epochs), so this resumes a
 * core's learning where a saved one stopped, or starts a test at a counter boundary.
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE (uninitialised core).
 */
el_status_t el_core_set_time(el_core_t *core, uint64_t t);
/** @brief First neuron of population @p pop in the concatenated order; -1 if out of range. */
int64_t el_core_pop_offset(const el_core_t *core, uint32_t pop);
/** @brief The spikes (0/1) of the last step, n_neurons bytes; NULL for a bad core. */
const uint8_t *el_core_spikes(const el_core_t *core);
/** @brief Current u, n_neurons values in [EL_STATE_MIN, EL_STATE_MAX]; NULL for a bad core. */
const int32_t *el_core_u(const el_core_t *core);
/** @brief Current v, n_neurons values in [-EL_STATE_MAX, EL_STATE_MAX]; NULL for a bad core. */
const int32_t *el_core_v(const el_core_t *core);
/** @brief The third factors in effect, n_neurons values (the host's, or those computed at the
 *         last step, spec 5.3); NULL for a bad core. */
const int8_t *el_core_third(const el_core_t *core);

/**
 * @brief Read back connection @p conn's effective mantissas w' as a dense matrix.
 * @param core  the core
 * @param conn  connection index, [0, n_conns)
 * @param out   n_dst * n_src int8, row-major (dst i, src j at i * n_src + j); zero where a sparse
 *              connection stores no weight
 * @param len   size of @p out in values; must be >= n_dst * n_src (the product is formed in 64
 *              bits: a sparse connection whose n_dst * n_src passes SIZE_MAX is refused)
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (bad @p conn), ::EL_ERR_SIZE
 *         (@p len too small; nothing written).
 */
el_status_t el_core_read_weights(const el_core_t *core, uint32_t conn, int8_t *out, size_t len);

/* ---- plasticity (spec section 5) ------------------------------------------------------------- */

/**
 * @brief Write the third factor r of every neuron (held until written again; spec 5.3).
 * @param core the core
 * @param r    n_neurons values in [EL_THIRD_MIN, EL_THIRD_MAX] (every int8_t), neurons in the
 *             concatenated order; 0 for the neurons of a population whose third factor is
 *             computed (::EL_POP_THIRD_COMPUTED), which keep their computed value
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (a non-zero value for a
 *         computed third factor; nothing written).
 */
el_status_t el_core_set_third(el_core_t *core, const int8_t *r);

/**
 * @brief The core-wide learning switch (spec 5.4): off, traces and the epochs' clearing of
 *        x0 / y0 go on and only the updates of w and e are skipped. On after init.
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE.
 */
el_status_t el_core_set_learning(el_core_t *core, int on);

/**
 * @brief Replace a plastic connection's hyperparameters (coefficient mantissas, gate
 *        thresholds, trace decays and impulses) by those of new microcode of the same structure,
 *        without touching weights, tags or traces.
 * @param core the core
 * @param conn a plastic connection's index
 * @param code microcode bytes, @p len of them
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (@p conn out of range or not
 *         plastic), any error of el_rule_load(), ::EL_ERR_RULE_STRUCTURE (the structure differs:
 *         terms, exponents, factors, gates' factors, t_epoch, weight limits, rounding, targets).
 *         On error nothing changes.
 */
el_status_t el_core_set_rule(el_core_t *core, uint32_t conn, const uint8_t *code, size_t len);

/**
 * @brief Read a plastic connection's weight mantissas (full, before the sign-mode truncation)
 *        and tags as dense row-major matrices (destination i, source j at i * n_src + j; zero
 *        where a sparse connection stores no synapse).
 * @param core the core
 * @param conn a plastic connection's index
 * @param w    NULL or n_dst * n_src int8
 * @param e    NULL or n_dst * n_src int8
 * @param len  size of each non-NULL buffer in values, >= n_dst * n_src (formed in 64 bits, as
 *             for el_core_read_weights)
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (bad or non-plastic @p conn),
 *         ::EL_ERR_SIZE (@p len too small; nothing written).
 */
el_status_t el_core_read_plastic(const el_core_t *core, uint32_t conn, int8_t *w, int8_t *e,
                                 size_t len);

/**
 * @brief Read a plastic connection's traces: x = [x1 (n_src), x2 (n_src)], y = [y1, y2, y3]
 *        (n_dst each), every value in [0, EL_TRACE_MAX].
 * @param x     NULL or 2 * n_src bytes
 * @param y     NULL or 3 * n_dst bytes
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_STATE, ::EL_ERR_RANGE (bad or non-plastic @p conn).
 */
el_status_t el_core_read_traces(const el_core_t *core, uint32_t conn, uint8_t *x, uint8_t *y);

/**
 * @brief el_core_run() with the third factor the host holds at each step: before step k of
 *        this call, r is set to row k of @p third (when not NULL).
 * @param third NULL or n_steps * n_neurons int8 (row-major); 0 in the columns of computed
 *              third factors (as for el_core_set_third)
 * @return as el_core_run(), and ::EL_ERR_RANGE (a non-zero value for a computed third factor,
 *         in any row; checked before any step, so the core is unchanged).
 */
el_status_t el_core_run_third(el_core_t *core, const uint8_t *raster, const int8_t *third,
                              size_t n_steps, uint8_t *out_s, int32_t *out_u, int32_t *out_v);

#ifdef __cplusplus
}
#endif

#endif /* EL_CORE_H */
