/* Model artifact reader (el_artifact.h, docs/artifact.md). */
#include "el_artifact.h"

#include "el_port.h"
#include "el_proto.h" /* el_crc32 */

static const uint8_t k_magic[8] = {0x89, 0x45, 0x4C, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A};

/* A bounded cursor over [base, end) of the image; `pos` is an offset in the image. */
typedef struct cursor {
    const uint8_t *img;
    uint64_t base, pos, end;
} cursor_t;

static int take(cursor_t *c, uint64_t n, const uint8_t **out)
{
    if (n > c->end - c->pos) {
        return 0;
    }
    *out = c->img + c->pos;
    c->pos += n;
    return 1;
}

static void align4(cursor_t *c)
{
    uint64_t rel = c->pos - c->base;
    c->pos += (4u - (rel & 3u)) & 3u;
    if (c->pos > c->end) {
        c->pos = c->end; /* the next take() fails if anything more is needed */
    }
}

el_artifact_status_t el_artifact_payload_offset(const uint8_t *image, size_t len,
                                                uint32_t *offset)
{
    uint64_t off;
    if (image == NULL || offset == NULL) {
        return EL_ART_ERR_NULL;
    }
    if (len < EL_ART_HEADER_BYTES) {
        return EL_ART_E_TRUNCATED;
    }
    {
        size_t i;
        for (i = 0; i < 8; ++i) {
            if (image[i] != k_magic[i]) {
                return EL_ART_E_MAGIC;
            }
        }
    }
    off = (uint64_t)EL_ART_HEADER_BYTES + el_get_u32(image + 12);
    if (off > 0xFFFFFFFFu) {
        return EL_ART_E_TRUNCATED;
    }
    *offset = (uint32_t)off;
    return EL_ART_OK;
}

static el_artifact_status_t parse_network(cursor_t *c, el_artifact_t *a)
{
    const uint8_t *p;
    uint32_t n_pops, n_conns, k;
    uint32_t sizes[EL_MAX_POPULATIONS];
    if (!take(c, 12, &p)) {
        return EL_ART_E_TRUNCATED;
    }
    a->desc.n_inputs = el_get_u32(p);
    a->seed = el_get_u32(p + 4);
    n_pops = el_get_u16(p + 8);
    n_conns = el_get_u16(p + 10);
    if (n_pops < 1 || n_pops > EL_MAX_POPULATIONS || n_conns > EL_MAX_CONNECTIONS ||
        a->desc.n_inputs > EL_MAX_FANIN) {
        return EL_ART_E_NETWORK;
    }
    for (k = 0; k < n_pops; ++k) {
        el_pop_desc_t *pd = &a->pops[k];
        const uint8_t *bias;
        if (!take(c, 16, &p)) {
            return EL_ART_E_TRUNCATED;
        }
        pd->size = el_get_u32(p);
        pd->du = el_get_u16(p + 4);
        pd->dv = el_get_u16(p + 6);
        pd->vth_mant = (int32_t)el_get_u32(p + 8);
        pd->bias_exp = p[12];
        pd->refractory = p[13];
        /* third factor: 0 = written by the host, k + 1 = computed from population k's u with
         * the shift in the next byte; el_core_bytes checks the population, size and shift */
        pd->flags = p[14] != 0u ? EL_POP_THIRD_COMPUTED : 0u;
        pd->third_src = p[14] != 0u ? (int32_t)p[14] - 1 : 0;
        pd->third_shift = p[15];
        if (pd->size < 1 || pd->size > EL_MAX_NEURONS || el_get_u32(p + 8) > 0x7FFFFFFFu ||
            p[14] > n_pops) {
            return EL_ART_E_NETWORK;
        }
        sizes[k] = pd->size;
        if (!take(c, 2u * (uint64_t)pd->size, &bias)) {
            return EL_ART_E_TRUNCATED;
        }
        pd->bias_mant = (const int16_t *)(const void *)bias;
        align4(c);
    }
    for (k = 0; k < n_conns; ++k) {
        el_conn_desc_t *cd = &a->conns[k];
        uint32_t src, dst, flags, nnz, code_len;
        uint64_t n_src, n_dst;
        const uint8_t *w;
        if (!take(c, 16, &p)) {
            return EL_ART_E_TRUNCATED;
        }
        src = el_get_u16(p);
        dst = el_get_u16(p + 2);
        cd->w_exp = (int8_t)p[4];
        flags = p[5];
        nnz = el_get_u32(p + 8);
        code_len = el_get_u32(p + 12);
        if (el_get_u16(p + 6) != 0 || dst >= n_pops || (src != EL_ART_SRC_INPUT && src >= n_pops) ||
            (flags & ~(uint32_t)(EL_ART_FLAG_MIXED | EL_ART_FLAG_SPARSE | EL_ART_FLAG_PLASTIC)) ||
            (!(flags & EL_ART_FLAG_SPARSE) && nnz != 0) ||
            (!(flags & EL_ART_FLAG_PLASTIC) && code_len != 0)) {
            return EL_ART_E_NETWORK;
        }
        n_src = src == EL_ART_SRC_INPUT ? a->desc.n_inputs : sizes[src];
        n_dst = sizes[dst];
        cd->src = src == EL_ART_SRC_INPUT ? EL_SRC_INPUT : (int32_t)src;
        cd->dst = (int32_t)dst;
        cd->flags = (flags & EL_ART_FLAG_MIXED) ? EL_CONN_MIXED : 0u;
        if (flags & EL_ART_FLAG_PLASTIC) {
            cd->flags |= EL_CONN_PLASTIC;
        }
        cd->indptr = NULL;
        cd->indices = NULL;
        if (flags & EL_ART_FLAG_SPARSE) {
            const uint8_t *ip, *ix;
            cd->kind = EL_CONN_SPARSE;
            if ((uint64_t)nnz > n_src * n_dst) {
                return EL_ART_E_NETWORK;
            }
            if (!take(c, 4u * (n_dst + 1u), &ip) || !take(c, 4u * (uint64_t)nnz, &ix)) {
                return EL_ART_E_TRUNCATED;
            }
            /* The core follows indptr up to indptr[n_dst]: it must be the nnz checked here. */
            if (el_get_u32(ip + 4u * n_dst) != nnz || el_get_u32(ip) != 0) {
                return EL_ART_E_NETWORK;
            }
            cd->indptr = (const uint32_t *)(const void *)ip;
            cd->indices = nnz ? (const uint32_t *)(const void *)ix : NULL;
            a->nnz[k] = nnz;
        } else {
            cd->kind = EL_CONN_DENSE;
            if (n_src * n_dst > 0xFFFFFFFFu) {
                return EL_ART_E_NETWORK;
            }
            nnz = (uint32_t)(n_src * n_dst);
            a->nnz[k] = nnz;
        }
        a->weights_offset[k] = (uint32_t)c->pos;
        if (!take(c, nnz, &w)) {
            return EL_ART_E_TRUNCATED;
        }
        cd->weights = nnz ? (const int8_t *)(const void *)w : NULL;
        a->file_flags[k] = (uint8_t)flags;
        a->rule_code[k] = NULL;
        a->rule_len[k] = 0;
        if (flags & EL_ART_FLAG_PLASTIC) {
            const uint8_t *code;
            if (!take(c, code_len, &code)) {
                return EL_ART_E_TRUNCATED;
            }
            a->rule_code[k] = code;
            a->rule_len[k] = code_len;
            cd->rule = code;
            cd->rule_len = code_len;
            a->n_plastic++;
        }
        align4(c);
    }
    a->desc.seed = a->seed;
    a->desc.n_pops = n_pops;
    a->desc.pops = a->pops;
    a->desc.n_conns = n_conns;
    a->desc.conns = n_conns ? a->conns : NULL;
    return EL_ART_OK;
}

el_artifact_status_t el_artifact_parse(const uint8_t *image, size_t len, el_artifact_t *art)
{
    uint32_t mlen, plen, payload_at;
    uint64_t end;
    cursor_t c;
    int seen_net = 0, seen_map = 0, seen_ro = 0;
    el_artifact_status_t st;
    if (image == NULL || art == NULL) {
        return EL_ART_ERR_NULL;
    }
    el_memset(art, 0, sizeof *art);
    st = el_artifact_payload_offset(image, len, &payload_at);
    if (st != EL_ART_OK) {
        return st;
    }
    if (el_crc32(0, image, 24) != el_get_u32(image + 24) || el_get_u32(image + 28) != 0 ||
        el_get_u16(image + 10) != 0) {
        return EL_ART_E_HEADER_CRC;
    }
    if (el_get_u16(image + 8) != EL_ART_FORMAT_VERSION) {
        return EL_ART_E_VERSION;
    }
    mlen = el_get_u32(image + 12);
    plen = el_get_u32(image + 16);
    end = (uint64_t)EL_ART_HEADER_BYTES + mlen + plen;
    if (end > len) {
        return EL_ART_E_TRUNCATED;
    }
    if (end < len) {
        return EL_ART_E_TRAILING;
    }
    if (el_crc32(0, image + EL_ART_HEADER_BYTES, (size_t)mlen + plen) != el_get_u32(image + 20)) {
        return EL_ART_E_CRC;
    }
    if (((uintptr_t)(image + payload_at)) & 3u) {
        return EL_ART_E_ALIGN;
    }
    art->manifest_len = mlen;
    art->payload_len = plen;
    art->total_len = (uint32_t)end;
    c.img = image;
    c.base = payload_at;
    c.pos = payload_at;
    c.end = end;
    while (c.pos < c.end) {
        const uint8_t *h;
        uint32_t type, slen;
        cursor_t s;
        if (!take(&c, 8, &h)) {
            return EL_ART_E_TRUNCATED;
        }
        type = el_get_u16(h);
        slen = el_get_u32(h + 4);
        if (el_get_u16(h + 2) != 0) {
            return EL_ART_E_SECTION;
        }
        if (slen > c.end - c.pos) {
            return EL_ART_E_TRUNCATED;
        }
        s.img = image;
        s.base = c.pos;
        s.pos = c.pos;
        s.end = c.pos + slen;
        if (type == EL_ART_SEC_NETWORK) {
            if (seen_net++) {
                return EL_ART_E_SECTION;
            }
            st = parse_network(&s, art);
            if (st != EL_ART_OK) {
                return st;
            }
        } else if (type == EL_ART_SEC_INPUT_MAP) {
            const uint8_t *p;
            el_art_input_map_t *m = &art->input_map;
            if (seen_map++) {
                return EL_ART_E_SECTION;
            }
            if (!take(&s, 16, &p)) {
                return EL_ART_E_TRUNCATED;
            }
            m->width = el_get_u16(p);
            m->height = el_get_u16(p + 2);
            m->polarities = p[4];
            m->shift = p[5];
            m->x0 = el_get_u16(p + 6);
            m->y0 = el_get_u16(p + 8);
            m->dt_us = el_get_u32(p + 12);
            if ((m->polarities != 1 && m->polarities != 2) || m->width < 1 || m->height < 1 ||
                m->dt_us < 1 || m->shift > 15 || el_get_u16(p + 10) != 0) {
                return EL_ART_E_INPUT_MAP;
            }
            art->has_input_map = 1;
        } else if (type == EL_ART_SEC_READOUT) {
            const uint8_t *p;
            if (seen_ro++) {
                return EL_ART_E_SECTION;
            }
            if (!take(&s, 8, &p)) {
                return EL_ART_E_TRUNCATED;
            }
            art->readout.population = el_get_u16(p);
            art->readout.r_pos = (int8_t)p[2];
            art->readout.r_neg = (int8_t)p[3];
            art->readout.steps = el_get_u32(p + 4);
            art->has_readout = 1;
        } else {
            return EL_ART_E_SECTION;
        }
        c.pos = s.end;
        align4(&c);
    }
    if (!seen_net) {
        return EL_ART_E_NO_NETWORK;
    }
    if (art->has_readout && art->readout.population >= art->desc.n_pops) {
        return EL_ART_E_READOUT;
    }
    if (art->has_input_map &&
        (uint64_t)art->input_map.width * art->input_map.height * art->input_map.polarities !=
            art->desc.n_inputs) {
        return EL_ART_E_INPUT_MAP;
    }
    return EL_ART_OK;
}

el_artifact_status_t el_artifact_reseal(uint8_t *image, size_t len)
{
    uint64_t end;
    if (image == NULL) {
        return EL_ART_ERR_NULL;
    }
    if (len < EL_ART_HEADER_BYTES) {
        return EL_ART_E_TRUNCATED;
    }
    end = (uint64_t)EL_ART_HEADER_BYTES + el_get_u32(image + 12) + el_get_u32(image + 16);
    if (end > len) {
        return EL_ART_E_TRUNCATED;
    }
    el_put_u32(image + 20, el_crc32(0, image + EL_ART_HEADER_BYTES, (size_t)(end - EL_ART_HEADER_BYTES)));
    el_put_u32(image + 24, el_crc32(0, image, 24));
    return EL_ART_OK;
}

const char *el_artifact_status_name(int status)
{
    const char *name = NULL;
    if (status == EL_ART_OK) {
        return "EL_ART_OK";
    }
    if (status == EL_ART_ERR_NULL || (status >= EL_STATUS_BLOCK_MODEL &&
                                      status < EL_STATUS_BLOCK_MODEL + EL_STATUS_BLOCK_SIZE)) {
        name = el_status_lookup(status); /* "EL_ERR_NULL", EL_ART_E_*: el_status.c names them */
    }
    return name != NULL ? name : "EL_ART_UNKNOWN";
}
