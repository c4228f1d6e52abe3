/**
 * @file el_status.c
 * @brief Names of the status codes (el_status.h). A unit that adds codes adds its names here.
 */
#include "el_status.h"

const char *el_status_name(int status)
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
    case EL_ERR_RULE_MAGIC: return "EL_ERR_RULE_MAGIC";
    case EL_ERR_RULE_VERSION: return "EL_ERR_RULE_VERSION";
    case EL_ERR_RULE_TRUNCATED: return "EL_ERR_RULE_TRUNCATED";
    case EL_ERR_RULE_FIELD: return "EL_ERR_RULE_FIELD";
    case EL_ERR_RULE_WIDTH: return "EL_ERR_RULE_WIDTH";
    case EL_ERR_RULE_TRAILING: return "EL_ERR_RULE_TRAILING";
    case EL_ERR_RULE_STRUCTURE: return "EL_ERR_RULE_STRUCTURE";
    default: return "EL_ERR_UNKNOWN";
    }
}
