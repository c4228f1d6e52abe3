/**
 * @file el_status.c
 * @brief Names of the status codes of every unit (el_status.h's numbering). A unit that adds
 *        codes adds its names here, under its block.
 *
 * The units' headers are included for their enumerators' values only: nothing here calls
 * another unit, so this file links alone and every unit may call it (el_proto_status_name() and
 * el_artifact_status_name() name their blocks through el_status_lookup()). One switch over all
 * blocks also makes a value given twice a compile error.
 */
#include <stddef.h>

#include "el_status.h"
#include "el_artifact.h" /* EL_ART_E_*, model artifact block */
#include "el_proto.h"    /* EL_PROTO_E_*, serial protocol block */

const char *el_status_lookup(int status)
{
    switch (status) {
    case EL_OK: return "EL_OK";
    case EL_ERR_NULL: return "EL_ERR_NULL";
    case EL_ERR_RANGE: return "EL_ERR_RANGE";
    case EL_ERR_SIZE: return "EL_ERR_SIZE";
    case EL_ERR_ALIGN: return "EL_ERR_ALIGN";
    case EL_ERR_UNSUPPORTED: return "EL_ERR_UNSUPPORTED";
    case EL_ERR_STATE: return "EL_ERR_STATE";
    case EL_ERR_FORMAT: return "EL_ERR_FORMAT";
    /* serial protocol codec (el_proto.h), 32 .. 63 */
    case EL_PROTO_E_COBS: return "EL_PROTO_E_COBS";
    case EL_PROTO_E_CRC: return "EL_PROTO_E_CRC";
    case EL_PROTO_E_SHORT: return "EL_PROTO_E_SHORT";
    case EL_PROTO_E_OVERSIZE: return "EL_PROTO_E_OVERSIZE";
    case EL_PROTO_E_LENGTH: return "EL_PROTO_E_LENGTH";
    case EL_PROTO_E_VERSION: return "EL_PROTO_E_VERSION";
    case EL_PROTO_E_TYPE: return "EL_PROTO_E_TYPE";
    case EL_PROTO_E_PAYLOAD: return "EL_PROTO_E_PAYLOAD";
    case EL_PROTO_E_SEQ: return "EL_PROTO_E_SEQ";
    case EL_PROTO_E_BUSY: return "EL_PROTO_E_BUSY";
    case EL_PROTO_E_OFFSET: return "EL_PROTO_E_OFFSET";
    case EL_PROTO_E_ARTIFACT_CRC: return "EL_PROTO_E_ARTIFACT_CRC";
    case EL_PROTO_E_INCOMPLETE: return "EL_PROTO_E_INCOMPLETE";
    case EL_PROTO_E_TOO_BIG: return "EL_PROTO_E_TOO_BIG";
    case EL_PROTO_E_NO_MODEL: return "EL_PROTO_E_NO_MODEL";
    case EL_PROTO_E_FLASH: return "EL_PROTO_E_FLASH";
    case EL_PROTO_E_NO_SAVE: return "EL_PROTO_E_NO_SAVE";
    /* plasticity processor / rule microcode (el_learn), 64 .. 95 */
    case EL_ERR_RULE_MAGIC: return "EL_ERR_RULE_MAGIC";
    case EL_ERR_RULE_VERSION: return "EL_ERR_RULE_VERSION";
    case EL_ERR_RULE_TRUNCATED: return "EL_ERR_RULE_TRUNCATED";
    case EL_ERR_RULE_FIELD: return "EL_ERR_RULE_FIELD";
    case EL_ERR_RULE_WIDTH: return "EL_ERR_RULE_WIDTH";
    case EL_ERR_RULE_TRAILING: return "EL_ERR_RULE_TRAILING";
    case EL_ERR_RULE_STRUCTURE: return "EL_ERR_RULE_STRUCTURE";
    /* model artifact loading (el_artifact.h), 96 .. 127 */
    case EL_ART_E_MAGIC: return "EL_ART_E_MAGIC";
    case EL_ART_E_VERSION: return "EL_ART_E_VERSION";
    case EL_ART_E_HEADER_CRC: return "EL_ART_E_HEADER_CRC";
    case EL_ART_E_TRUNCATED: return "EL_ART_E_TRUNCATED";
    case EL_ART_E_TRAILING: return "EL_ART_E_TRAILING";
    case EL_ART_E_CRC: return "EL_ART_E_CRC";
    case EL_ART_E_SECTION: return "EL_ART_E_SECTION";
    case EL_ART_E_NO_NETWORK: return "EL_ART_E_NO_NETWORK";
    case EL_ART_E_NETWORK: return "EL_ART_E_NETWORK";
    case EL_ART_E_INPUT_MAP: return "EL_ART_E_INPUT_MAP";
    case EL_ART_E_READOUT: return "EL_ART_E_READOUT";
    case EL_ART_E_ALIGN: return "EL_ART_E_ALIGN";
    default: return NULL;
    }
}

const char *el_status_name(int status)
{
    const char *name = el_status_lookup(status);
    return name != NULL ? name : "EL_ERR_UNKNOWN";
}
