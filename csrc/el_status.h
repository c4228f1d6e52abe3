/**
 * @file el_status.h
 * @brief ::el_status_t, the status every fallible edgelearn call returns.
 *
 * Values are stable: they cross the cffi boundary and the serial protocol, and Python mirrors
 * them by name (edgelearn.runtime reads them from C). Never renumber or reuse a value; append.
 *
 * Numbering scheme (blocks of 32, one per unit; a unit adds codes only inside its block):
 *
 * | range     | owner                                                     |
 * |-----------|-----------------------------------------------------------|
 * | 0         | ::EL_OK                                                   |
 * | 1 .. 31   | common codes, used by every unit (arguments, memory, ...) |
 * | 32 .. 63  | serial protocol codec (el_proto)                          |
 * | 64 .. 95  | plasticity processor / rule microcode                     |
 * | 96 .. 127 | model artifact loading                                    |
 * | 128 ..    | unassigned                                                |
 *
 * ::EL_STATUS_BLOCK_PROTO etc. name the first value of each block. el_status_name() names every
 * code of every unit (el_status.c holds the one table of names).
 */
#ifndef EL_STATUS_H
#define EL_STATUS_H

/** First value of each unit's block of status codes (see the table above). */
#define EL_STATUS_BLOCK_COMMON 0
#define EL_STATUS_BLOCK_PROTO 32
#define EL_STATUS_BLOCK_PLAST 64
#define EL_STATUS_BLOCK_MODEL 96
#define EL_STATUS_BLOCK_SIZE 32 /**< values in each block */

/** Status of a fallible call. ::EL_OK is 0; every other value is an error. */
typedef enum el_status {
    EL_OK = 0,               /**< success */
    EL_ERR_NULL = 1,         /**< a required pointer argument is NULL */
    EL_ERR_RANGE = 2,        /**< an argument or descriptor field is outside its documented range */
    EL_ERR_SIZE = 3,         /**< a caller buffer is too small, or a size computation overflows */
    EL_ERR_ALIGN = 4,        /**< a caller buffer is not aligned as documented */
    EL_ERR_UNSUPPORTED = 5,  /**< a reserved feature/flag that this build does not implement */
    EL_ERR_STATE = 6,        /**< the object is not in a state that allows the call */
    EL_ERR_FORMAT = 7,       /**< malformed structured input (e.g. CSR indices not sorted) */
    /* plasticity processor / rule microcode (el_learn) */
    EL_ERR_RULE_MAGIC = 64,     /**< rule microcode does not start with "ELRU" */
    EL_ERR_RULE_VERSION = 65,   /**< rule microcode version this build does not read */
    EL_ERR_RULE_TRUNCATED = 66, /**< rule microcode ends inside a field */
    EL_ERR_RULE_FIELD = 67,     /**< a microcode field is out of range or an id is unknown */
    EL_ERR_RULE_WIDTH = 68,     /**< a term's product can reach 2^24 (too wide) */
    EL_ERR_RULE_TRAILING = 69,  /**< bytes after the last term */
    EL_ERR_RULE_STRUCTURE = 70  /**< a replacement rule's structure differs from the loaded one */
} el_status_t;

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The enumerator's name of a status, e.g. "EL_ERR_RANGE", "EL_PROTO_E_CRC" (el_proto.h),
 *        "EL_ART_E_CRC" (el_artifact.h): every block's codes, by the name their unit gives them.
 * @param status any value (unknown values are allowed)
 * @return a static string; "EL_ERR_UNKNOWN" for values no unit of this build defines.
 */
const char *el_status_name(int status);

/**
 * @brief As el_status_name(), but NULL for values no unit of this build defines (the units'
 *        own el_proto_status_name() / el_artifact_status_name() take their names from it).
 * @param status any value
 * @return a static string, or NULL.
 */
const char *el_status_lookup(int status);

#ifdef __cplusplus
}
#endif

#endif /* EL_STATUS_H */
