/**
 * @file el_config.c
 * @brief The table of the core's constants (el_config.h), so bindings can list them all.
 */
#include "el_config.h"

#include <stddef.h>

typedef struct el_config_entry {
    const char *name;
    int32_t value;
} el_config_entry_t;

#define EL_CONFIG_ENTRY(NAME) {#NAME, (int32_t)(EL_##NAME)},
static const el_config_entry_t el_config_table[] = {EL_CONFIG_CONSTANTS(EL_CONFIG_ENTRY)};
#undef EL_CONFIG_ENTRY

int el_config_count(void)
{
    return (int)(sizeof el_config_table / sizeof el_config_table[0]);
}

const char *el_config_at(int i, int32_t *value)
{
    if (i < 0 || i >= el_config_count()) {
        return NULL;
    }
    if (value != NULL) {
        *value = el_config_table[i].value;
    }
    return el_config_table[i].name;
}
