/**
 * @file el_artifact.h
 * @brief Read a model artifact (`.elm`, docs/artifact.md) in place: verify the header and its
 *        checksums, walk the payload's sections and fill an ::el_core_desc_t whose arrays point
 *        into the image (no copies, no heap).
 *
 * The firmware receives the same bytes the in-process runtime loads (LOAD, docs/protocol.md),
 * parses them with el_artifact_parse() and hands ::el_artifact_t.desc to el_core_bytes() /
 * el_core_init(). The manifest (JSON) is skipped.
 *
 * ## Safety
 *
 * Every read is bounds-checked against the image length before it is made; sizes are computed in
 * 64 bits, so no announced length or count can make the parser read outside the image. Each kind
 * of malformation has its own status (::el_artifact_status_t). The parser checks structure (what
 * it must, to hand out pointers that are safe to follow); the ranges of the network's fields
 * (decays, thresholds, CSR ordering, ...) are el_core_bytes()'s to check.
 *
 * ## Alignment and byte order
 *
 * Biases (i16) and CSR arrays (u32) are used in place, so the image must be little-endian data
 * on a little-endian machine (x86, Arm Cortex-M) and its *payload* (at byte 32 + manifest
 * length) must start at a 4-byte-aligned address: ::EL_ART_E_ALIGN otherwise. The artifact's
 * own padding then aligns every array. el_artifact_payload_offset() tells a loader where the
 * payload starts, so it can place the image accordingly.
 */
#ifndef EL_ARTIFACT_H
#define EL_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "el_config.h"
#include "el_core.h"
#include "el_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EL_ART_HEADER_BYTES 32      /**< fixed header */
#define EL_ART_FORMAT_VERSION 1     /**< the only format version this build reads */
#define EL_ART_SEC_NETWORK 1        /**< section types */
#define EL_ART_SEC_INPUT_MAP 2
#define EL_ART_SEC_READOUT 3
#define EL_ART_SRC_INPUT 0xFFFFu    /**< connection source naming the input port */
#define EL_ART_FLAG_MIXED 1u        /**< connection flags in the file */
#define EL_ART_FLAG_SPARSE 2u
#define EL_ART_FLAG_PLASTIC 4u

/** Status of el_artifact_parse(): 0, the common codes it uses, and the artifact block 96..127
 *  (el_status.h); the same numbers travel in ERROR frames of a failed LOAD_COMMIT. */
typedef enum el_artifact_status {
    EL_ART_OK = 0,
    EL_ART_ERR_NULL = 1,         /**< = EL_ERR_NULL */
    EL_ART_E_MAGIC = 96,         /**< not an artifact (magic) */
    EL_ART_E_VERSION = 97,       /**< format version this build does not read */
    EL_ART_E_HEADER_CRC = 98,    /**< header checksum mismatch, or reserved header bytes set */
    EL_ART_E_TRUNCATED = 99,     /**< image shorter than announced, or a field runs past its end */
    EL_ART_E_TRAILING = 100,     /**< bytes after the payload */
    EL_ART_E_CRC = 101,          /**< manifest + payload checksum mismatch */
    EL_ART_E_SECTION = 102,      /**< unknown, repeated or misframed section */
    EL_ART_E_NO_NETWORK = 103,   /**< no network section */
    EL_ART_E_NETWORK = 104,      /**< network structure: counts, src/dst, flags, CSR nnz */
    EL_ART_E_INPUT_MAP = 105,    /**< input map out of range or disagreeing with n_inputs */
    EL_ART_E_READOUT = 106,      /**< readout names a population that does not exist */
    EL_ART_E_ALIGN = 107         /**< payload not 4-byte aligned in memory */
} el_artifact_status_t;

/** The input map section (docs/artifact.md, section 2). */
typedef struct el_art_input_map {
    uint16_t width, height;
    uint8_t polarities; /**< 1 or 2 */
    uint8_t shift;      /**< 0 .. 15 */
    uint16_t x0, y0;
    uint32_t dt_us;     /**< >= 1 */
} el_art_input_map_t;

/** The readout section (docs/artifact.md, section 3). */
typedef struct el_art_readout {
    uint16_t population;
    int8_t r_pos, r_neg;
    uint32_t steps;
} el_art_readout_t;

/** A parsed artifact. Pointers (in desc, pops, conns, rule_code) point into the image. */
typedef struct el_artifact {
    el_core_desc_t desc;                          /**< ready for el_core_bytes / el_core_init */
    el_pop_desc_t pops[EL_MAX_POPULATIONS];
    el_conn_desc_t conns[EL_MAX_CONNECTIONS];
    uint32_t seed;                                /**< the network's PRNG seed */
    uint32_t nnz[EL_MAX_CONNECTIONS];             /**< stored weights of each connection */
    uint8_t file_flags[EL_MAX_CONNECTIONS];       /**< EL_ART_FLAG_* of each connection */
    const uint8_t *rule_code[EL_MAX_CONNECTIONS]; /**< plastic: rule microcode, else NULL */
    uint32_t rule_len[EL_MAX_CONNECTIONS];
    uint32_t weights_offset[EL_MAX_CONNECTIONS];  /**< byte offset of the weights in the image */
    uint32_t n_plastic;                           /**< plastic connections */
    uint8_t has_input_map, has_readout;
    el_art_input_map_t input_map;
    el_art_readout_t readout;
    uint32_t manifest_len, payload_len;
    uint32_t total_len;                           /**< 32 + manifest + payload */
} el_artifact_t;

/**
 * @brief Where the payload starts in an image (32 + manifest length), from its header alone.
 * @param image at least @p len bytes
 * @param len   bytes available (>= 32 needed)
 * @param offset receives the offset
 * @return ::EL_ART_OK, ::EL_ART_ERR_NULL, ::EL_ART_E_TRUNCATED (fewer than 32 bytes),
 *         ::EL_ART_E_MAGIC.
 */
el_artifact_status_t el_artifact_payload_offset(const uint8_t *image, size_t len,
                                                uint32_t *offset);

/**
 * @brief Verify an image and describe it.
 *
 * Checks, in order: magic, header CRC (and reserved bytes), version, announced length against
 * @p len (truncated / trailing), manifest + payload CRC, payload alignment, then each section.
 * @param image the artifact's bytes (must stay alive and unchanged while @p art is used)
 * @param len   their number
 * @param art   receives the description (its contents are unspecified on error)
 * @return ::EL_ART_OK or the first problem found (::el_artifact_status_t).
 */
el_artifact_status_t el_artifact_parse(const uint8_t *image, size_t len, el_artifact_t *art);

/** Name of an artifact status, e.g. "EL_ART_E_CRC" ("EL_ART_UNKNOWN" otherwise). */
const char *el_artifact_status_name(int status);

/**
 * @brief Recompute both CRCs of an image in place (after its weights were rewritten, e.g. by a
 *        SAVE of learned weights). @p image must be a valid artifact's bytes.
 * @return ::EL_ART_OK, ::EL_ART_ERR_NULL, ::EL_ART_E_TRUNCATED.
 */
el_artifact_status_t el_artifact_reseal(uint8_t *image, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EL_ARTIFACT_H */
