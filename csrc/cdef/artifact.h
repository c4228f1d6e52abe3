/* cffi declarations of the artifact reader (csrc/el_artifact.h). Values come from C.
 * (desc is left out: cdef files are read in name order, before core.h.) */

#define EL_ART_HEADER_BYTES ...
#define EL_ART_FORMAT_VERSION ...

typedef enum el_artifact_status {
    EL_ART_OK, EL_ART_ERR_NULL, EL_ART_E_MAGIC, EL_ART_E_VERSION, EL_ART_E_HEADER_CRC,
    EL_ART_E_TRUNCATED, EL_ART_E_TRAILING, EL_ART_E_CRC, EL_ART_E_SECTION, EL_ART_E_NO_NETWORK,
    EL_ART_E_NETWORK, EL_ART_E_INPUT_MAP, EL_ART_E_READOUT, EL_ART_E_ALIGN, ...
} el_artifact_status_t;

typedef struct el_art_input_map {
    uint16_t width, height;
    uint8_t polarities;
    uint8_t shift;
    uint16_t x0, y0;
    uint32_t dt_us;
    ...;
} el_art_input_map_t;

typedef struct el_art_readout {
    uint16_t population;
    int8_t r_pos, r_neg;
    uint32_t steps;
    ...;
} el_art_readout_t;

typedef struct el_artifact {
    uint32_t seed;
    uint32_t nnz[...];
    uint8_t file_flags[...];
    uint32_t rule_len[...];
    uint32_t n_plastic;
    uint8_t has_input_map, has_readout;
    el_art_input_map_t input_map;
    el_art_readout_t readout;
    uint32_t manifest_len, payload_len;
    uint32_t total_len;
    ...;
} el_artifact_t;

el_artifact_status_t el_artifact_payload_offset(const uint8_t *image, size_t len, uint32_t *offset);
el_artifact_status_t el_artifact_parse(const uint8_t *image, size_t len, el_artifact_t *art);
const char *el_artifact_status_name(int status);
el_artifact_status_t el_artifact_reseal(uint8_t *image, size_t len);
