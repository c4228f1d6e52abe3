/**
 * @file edgelearn.h
 * @brief The edgelearn C runtime: one header for everything.
 *
 * The runtime executes the core defined in docs/spec.md bit for bit like the JAX twin. It is
 * C99, allocates nothing (the caller owns all memory; `el_*_bytes()` says how much), keeps no
 * mutable statics, and returns an ::el_status_t from every call that can fail. Platform hooks
 * live in el_port.h.
 *
 * Units (one public unit per .c file):
 *  - el_config.h : the core's constants (mirrored in edgelearn/constants.py)
 *  - el_status.h : el_status_t, the status codes of every fallible call, and their numbering
 *  - el_fixed.h  : the only definitions of wrap, saturate, decay and shifts
 *  - el_core.h   : networks of LIF compartments, dense and sparse connections, the timestep
 *  - el_learn.h  : the plasticity processor: PRNG, traces, rule microcode, learning epochs
 *  - el_artifact.h : read a model artifact (.elm) in place into an el_core_desc_t
 */
#ifndef EDGELEARN_H
#define EDGELEARN_H

#include "el_config.h"
#include "el_status.h"
#include "el_fixed.h"
#include "el_core.h"
#include "el_learn.h"
#include "el_proto.h"
#include "el_artifact.h"

#endif /* EDGELEARN_H */
