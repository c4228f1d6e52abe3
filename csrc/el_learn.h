/**
 * @file el_learn.h
 * @brief The plasticity processor (docs/spec.md sections 5 and 6): the counter-based PRNG,
 *        trace updates, the rule-microcode loader and the learning epoch of one plastic
 *        connection.
 *
 * ## Pieces
 *
 *  - el_rand(): the PRNG of spec 5.1, a pure function of (seed, t, stream, index).
 *  - el_rule_load(): validates rule microcode (the bytes of edgelearn.rule.Rule.microcode():
 *    magic, version, settings, trace parameters, terms; every field range-checked, every id
 *    known, the buffer never read past its end, the width of every product checked like the
 *    compiler does) into a fixed-size ::el_rule_t owned by the caller.
 *  - ::el_plastic_t: the state of one plastic connection (full weight mantissas, tags, traces,
 *    epoch bits) in caller memory sized by el_plastic_bytes(); el_plastic_step() runs one
 *    timestep of it: traces with this step's spikes, then, every t_epoch steps, the rule over
 *    every stored synapse.
 *
 * el_core (el_core.h) owns one ::el_plastic_t per plastic connection inside its block and calls
 * el_plastic_step() after the compartments of every step; most users only need el_core.h.
 *
 * ## Weight layout
 *
 * The plastic mantissas are kept in the core's source-major packed layout (el_core.h): dense
 * `w[j * stride + i]` (stride >= n_dst, padding unused), sparse CSC order (per source j the
 * slots colptr[j] .. colptr[j+1] - 1, destination rowidx[k]). Two arrays are kept consistent:
 * the full mantissas `w` that the rule reads and updates, and the core's effective mantissas
 * `w_eff` (the sign-mode truncation applied, spec section 3) that the event-driven
 * accumulation adds; every epoch writes both. Tags `e` use the same layout.
 *
 * ## Speed
 *
 * A learning epoch first evaluates, once per epoch, every factor that depends only on the source
 * (x0, x1, x2) or only on the destination (y0..y3, r, constants) into per-term vectors
 * A[j] and B[i] (gates too, as zeroes where closed), so the per-synapse work of a term like
 * `2^-5 * x1 * y0` is one multiply, a shift and a saturating add per destination, in loops over
 * contiguous memory that vectorise. Factors that mix source, destination and synapse variables
 * (`(x1 - y1)`, `w`, `e`) are evaluated per synapse from precomputed parts. Terms whose source
 * part is zero for a source are skipped; a source none of whose terms is active leaves its
 * synapses untouched (the update is exactly 0 there, whatever the rounding mode). Stochastic
 * rounding skips the PRNG for blocks of 16 synapses whose accumulators are exact multiples of
 * 2^-15 (the draw cannot change them).
 *
 * ## Memory and stack
 *
 * ::el_rule_t is a fixed-size struct (about 2.8 KB: 32 terms of 4 factors and a gate); each
 * ::el_plastic_t embeds one. el_rule_check() keeps one on the stack; el_plastic_step() uses
 * about 3.5 KB of stack on a 32-bit target (the per-term plans of an epoch); nothing else is
 * large. All arrays are caller memory (el_plastic_bytes(), el_plastic_scratch_bytes()).
 */
#ifndef EL_LEARN_H
#define EL_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "el_config.h"
#include "el_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PRNG (spec 5.1) ------------------------------------------------------------------------ */

/** PRNG stream kinds (stream = 8 * connection index + kind). */
#define EL_KIND_X1 0
#define EL_KIND_X2 1
#define EL_KIND_Y1 2
#define EL_KIND_Y2 3
#define EL_KIND_Y3 4
#define EL_KIND_DW 5
#define EL_KIND_DE 6

/** lowbias32 (spec 5.1), all arithmetic modulo 2^32. */
static inline uint32_t el_lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

/** mix(x) = lowbias32(x + 0x9E3779B9) (spec 5.1). */
static inline uint32_t el_mix32(uint32_t x)
{
    return el_lowbias32(x + 0x9E3779B9u);
}

/**
 * @brief The counter-based PRNG of spec 5.1:
 *        rand = mix(mix(mix(mix(index) ^ stream) ^ t) ^ seed), all unsigned 32-bit.
 * @param seed   the network's seed, any uint32
 * @param t      the step number (1 for the first step), taken modulo 2^32
 * @param stream 8 * connection index + kind (::EL_KIND_X1 .. ::EL_KIND_DE)
 * @param index  source j (pre traces), neuron i (post traces), i * n_src + j mod 2^32 (synapse)
 * @return a uniformly distributed 32-bit word; never fails.
 */
static inline uint32_t el_rand(uint32_t seed, uint32_t t, uint32_t stream, uint32_t index)
{
    return el_mix32(el_mix32(el_mix32(el_mix32(index) ^ stream) ^ t) ^ seed);
}

/* ---- rules (spec 6) ------------------------------------------------------------------------- */

/** Rule variables: their ids in microcode (edgelearn.rule.VARIABLES). */
#define EL_VAR_X0 0
#define EL_VAR_X1 1
#define EL_VAR_X2 2
#define EL_VAR_Y0 3
#define EL_VAR_Y1 4
#define EL_VAR_Y2 5
#define EL_VAR_Y3 6
#define EL_VAR_R 7
#define EL_VAR_W 8
#define EL_VAR_E 9
/** Number of variables. */
#define EL_N_VARS 10
/** Microcode item id of an integer constant. */
#define EL_VAR_CONST 0xFF
/** Targets: their ids in microcode. */
#define EL_TARGET_DW 0
#define EL_TARGET_DE 1
/** Traces per connection: x1, x2 (per source), y1, y2, y3 (per destination). */
#define EL_N_TRACES 5
/** Size of the fixed microcode header: magic, version, flags, t_epoch, w_min, w_max, 5 x
 *  (decay, impulse), n_targets. */
#define EL_RULE_HEADER_BYTES 33

/** One factor: cnst + sum_q k[q] * var[q]. */
typedef struct el_rule_factor {
    int16_t k[EL_RULE_MAX_ITEMS];   /**< coefficient of item q */
    uint8_t var[EL_RULE_MAX_ITEMS]; /**< variable id (EL_VAR_X0 .. EL_VAR_E) of item q */
    uint8_t n_items;                /**< variable items, [0, EL_RULE_MAX_ITEMS] */
    int16_t cnst;                   /**< integer constant, [-32768, 32767] */
} el_rule_factor_t;

/** One term: mant * 2^exp * f[0] * ... * f[n_factors - 1], where |gate| > gate_th if gated. */
typedef struct el_rule_term {
    el_rule_factor_t f[EL_RULE_MAX_FACTORS]; /**< the factors */
    el_rule_factor_t gate;                   /**< the gate's factor (when gated) */
    int8_t mant;                             /**< [EL_COEF_MANT_MIN, EL_COEF_MANT_MAX] (hyper) */
    int8_t exp;                              /**< [EL_COEF_EXP_MIN, EL_COEF_EXP_MAX] */
    uint8_t n_factors;                       /**< [0, EL_RULE_MAX_FACTORS] */
    uint8_t gated;                           /**< 0 or 1 */
    uint16_t gate_th;                        /**< [0, 32767] (hyper) */
} el_rule_term_t;

/** A loaded, checked rule (spec 6). Terms of dw come first, then those of de. */
typedef struct el_rule {
    uint16_t t_epoch;                 /**< [1, EL_T_EPOCH_MAX] */
    int8_t w_min;                     /**< weight limits, w_min <= w_max */
    int8_t w_max;
    uint8_t rounding;                 /**< EL_ROUND_STOCHASTIC, EL_ROUND_FLOOR, EL_ROUND_NEAREST */
    uint8_t has_tag;                  /**< 1 when the rule has a de target */
    uint8_t n_terms[2];               /**< terms of dw [1, 16], of de [0 or 1..16] */
    uint16_t decay[EL_N_TRACES];      /**< [0, EL_DECAY_MAX] (hyper), order x1 x2 y1 y2 y3 */
    uint16_t impulse[EL_N_TRACES];    /**< [0, EL_IMPULSE_MAX] (hyper), Q4 */
    el_rule_term_t term[2 * EL_RULE_MAX_TERMS];
} el_rule_t;

/**
 * @brief Validate rule microcode and load it.
 *
 * Layout (little-endian; what edgelearn.rule.Rule.microcode() writes):
 *
 * | bytes | field |
 * |---|---|
 * | 4 | magic "ELRU" |
 * | u16 | version (::EL_RULE_VERSION) |
 * | u16 | flags: bits 0-1 rounding (0 stochastic, 1 floor, 2 nearest), bit 2 has a de target |
 * | u16 | t_epoch, [1, 65535] |
 * | i8, i8 | w_min <= w_max |
 * | 5 x (u16, u16) | decay [0, 4095], impulse [0, 2047] of x1, x2, y1, y2, y3 |
 * | u8 | targets: 1 (dw) or 2 (dw, de), matching the flag |
 * | per target: u8, u8 | target id (0 dw, 1 de, in this order), terms [1, 16] |
 * | per term: i8, i8, u8, u8, u16 | mantissa, exponent [-24, 7], factors [0, 4], gated (0/1),
 *   gate threshold [0, 32767] (0 when not gated) |
 * | per factor (the gate's first): u8 | items [0, 4] |
 * | per item: u8, i16 | variable id (0 x0, 1 x1, 2 x2, 3 y0, 4 y1, 5 y2, 6 y3, 7 r, 8 w, 9 e;
 *   0xFF a constant, at most one per factor), its coefficient (or the constant) |
 *
 * The factor's value is the constant plus the sum of coefficient x variable. A term can reach
 * at most |mantissa| x prod(|constant| + sum |k| max|var|) (max|var|: 1 for x0, y0; 127 for
 * traces; 128 for r, w, e); that bound, and the gate's, must stay below 2^24 (the compiler's
 * check): every product is then exact in int32 here and in float32 in the twin.
 * @param code microcode bytes (little-endian, layout of edgelearn.rule.Rule.microcode)
 * @param len  number of bytes at @p code; nothing past code[len - 1] is ever read
 * @param rule receives the rule (unchanged on error)
 * @return ::EL_OK; ::EL_ERR_NULL; ::EL_ERR_RULE_MAGIC; ::EL_ERR_RULE_VERSION;
 *         ::EL_ERR_RULE_TRUNCATED (ends inside a field); ::EL_ERR_RULE_FIELD (a field out of its
 *         range: flags, rounding, t_epoch 0, w_min > w_max, decay > 4095, impulse > 2047,
 *         targets not (dw) or (dw, de), tag flag disagreeing with the targets, 0 or more than 16
 *         terms, exponent outside [-24, 7], more than 4 factors or items, gate flag > 1, a gate
 *         threshold > 32767 or set on an ungated term, unknown variable id, two constants in a
 *         factor, `e` without a de target); ::EL_ERR_RULE_WIDTH (a term's product or a gate
 *         can reach 2^24 in magnitude, as the compiler checks); ::EL_ERR_RULE_TRAILING.
 */
el_status_t el_rule_load(const uint8_t *code, size_t len, el_rule_t *rule);

/**
 * @brief el_rule_load() into a temporary: only the status (for hosts that check microcode).
 */
el_status_t el_rule_check(const uint8_t *code, size_t len);

/**
 * @brief Whether two rules have the same structure: everything but the hyperparameters
 *        (coefficient mantissas, gate thresholds, trace decays and impulses) is equal.
 * @return 1 if so, 0 otherwise (also when either is NULL).
 */
int el_rule_same_structure(const el_rule_t *a, const el_rule_t *b);

/* ---- one plastic connection ----------------------------------------------------------------- */

/** State of one plastic connection (see the file comment for the layout). */
typedef struct el_plastic {
    el_rule_t rule;          /**< the rule in force */
    uint32_t n_src;          /**< sources */
    uint32_t n_dst;          /**< destination neurons */
    uint32_t stride;         /**< dense: row stride of w, w_eff, e (>= n_dst); sparse: 0 */
    uint32_t n_slots;        /**< dense: n_src * stride; sparse: nnz */
    uint32_t stream;         /**< 8 * connection index */
    uint32_t mixed;          /**< 1: sign-mode truncation of w_eff */
    uint32_t in_range;       /**< 1 once every stored w is inside [w_min, w_max] */
    const uint32_t *colptr;  /**< sparse: n_src + 1 slot offsets per source; NULL if dense */
    const uint32_t *rowidx;  /**< sparse: destination of each slot; NULL if dense */
    int8_t *w;               /**< n_slots full mantissas, [w_min, w_max] after the first epoch */
    int8_t *w_eff;           /**< the core's n_slots effective mantissas (kept consistent) */
    int8_t *e;               /**< n_slots tags, [EL_TAG_MIN, EL_TAG_MAX] */
    uint8_t *x;              /**< 2 * n_src pre traces: x1 at [j], x2 at [n_src + j]; [0, 127] */
    uint8_t *y;              /**< 3 * n_dst post traces: y1, y2, y3 at [q * n_dst + i]; [0, 127] */
    uint8_t *x0;             /**< n_src: source spiked in this epoch (0/1) */
    uint8_t *y0;             /**< n_dst: neuron spiked in this epoch (0/1) */
} el_plastic_t;

/** Geometry of a plastic connection, as the core packs it. */
typedef struct el_plastic_geom {
    uint32_t n_src;          /**< sources, [0, EL_MAX_FANIN] */
    uint32_t n_dst;          /**< destinations, [1, EL_MAX_NEURONS] */
    uint32_t stride;         /**< dense: row stride >= n_dst; 0 means sparse */
    uint32_t nnz;            /**< sparse: stored synapses; dense: ignored */
    const uint32_t *colptr;  /**< sparse: CSC offsets (n_src + 1); not needed for sizing */
    const uint32_t *rowidx;  /**< sparse: CSC destinations (nnz); not needed for sizing */
    uint32_t conn;           /**< the connection's index in the network (PRNG streams) */
    uint32_t mixed;          /**< 1 when the connection is in sign mode (mixed) */
} el_plastic_geom_t;

/**
 * @brief Bytes el_plastic_init() needs (the ::el_plastic_t and its arrays).
 * @param g     geometry
 * @param bytes receives the size
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_RANGE (bad geometry), ::EL_ERR_SIZE (overflow).
 */
el_status_t el_plastic_bytes(const el_plastic_geom_t *g, size_t *bytes);

/**
 * @brief Bytes of int32 scratch that el_plastic_step() needs for @p rule on @p g: per term a
 *        source and a destination vector, the same per factor needing per-synapse evaluation,
 *        and three destination vectors. One scratch block may be shared by all connections of a
 *        core (they run one after the other).
 */
size_t el_plastic_scratch_bytes(const el_rule_t *rule, const el_plastic_geom_t *g);

/**
 * @brief Build a plastic connection's state in caller memory.
 * @param g       geometry (as for el_plastic_bytes)
 * @param rule    the loaded rule (copied)
 * @param w       the full initial mantissas, n_slots values in the packed layout (copied), or
 *                NULL (zeros: the caller then fills p->w and calls el_plastic_sync())
 * @param w_eff   the core's packed effective mantissas (kept; rewritten every epoch)
 * @param mem     at least el_plastic_bytes() bytes, aligned to 8
 * @param bytes   size of @p mem
 * @param out     receives the handle (== mem)
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_RANGE, ::EL_ERR_SIZE, ::EL_ERR_ALIGN.
 *         Traces, epoch bits and tags start at 0.
 */
el_status_t el_plastic_init(const el_plastic_geom_t *g, const el_rule_t *rule, const int8_t *w,
                            int8_t *w_eff, void *mem, size_t bytes, el_plastic_t **out);

/**
 * @brief After the host changed p->w (full mantissas): rewrite the core's w_eff from it and
 *        re-check whether every weight is inside [w_min, w_max]. el_plastic_init() calls it.
 */
void el_plastic_sync(el_plastic_t *p);

/** @brief Zero the traces, epoch bits and tags (weights kept). */
void el_plastic_reset(el_plastic_t *p);

/**
 * @brief One timestep of a plastic connection (spec 5.2 and 5.4), after the compartments:
 *        traces with this step's spikes, then the learning epoch when t mod t_epoch == 0
 *        (updates of w and e only when @p learn is non-zero; x0 and y0 are cleared anyway).
 * @param p       the connection
 * @param src_spk sources that spiked at step t (ascending or not; each at most once), or NULL
 *                when @p n_src_spk is 0
 * @param n_src_spk their number
 * @param dst_spk destination neurons that spiked at step t (local indices), or NULL if none
 * @param n_dst_spk their number
 * @param r_dst   n_dst third factors of the destination neurons, [-128, 127]
 * @param seed    the network's seed
 * @param t       this step's number (first step: 1), modulo 2^32
 * @param learn   the core-wide learning switch
 * @param scratch el_plastic_scratch_bytes() bytes, aligned to 4
 */
void el_plastic_step(el_plastic_t *p, const uint32_t *src_spk, uint32_t n_src_spk,
                     const uint32_t *dst_spk, uint32_t n_dst_spk, const int8_t *r_dst,
                     uint32_t seed, uint32_t t, int learn, int32_t *scratch);

/**
 * @brief Replace the rule's hyperparameters with those of @p rule (same structure required).
 * @return ::EL_OK, ::EL_ERR_NULL, ::EL_ERR_RULE_STRUCTURE.
 */
el_status_t el_plastic_set_rule(el_plastic_t *p, const el_rule_t *rule);

/**
 * @brief Read the weights and/or tags as dense row-major n_dst x n_src matrices (destination i,
 *        source j at i * n_src + j; zero where a sparse connection stores no synapse).
 * @param w   NULL or n_dst * n_src values: full mantissas
 * @param e   NULL or n_dst * n_src values: tags
 * @param len size of each non-NULL buffer in values, >= n_dst * n_src (the product is formed in
 *            64 bits, so a sparse connection whose n_dst * n_src passes SIZE_MAX is refused)
 * @return ::EL_OK, ::EL_ERR_SIZE (@p len too small; nothing written).
 */
el_status_t el_plastic_read(const el_plastic_t *p, int8_t *w, int8_t *e, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EL_LEARN_H */
