#pragma once

// DeltaKV memory, its tables for decode, kept on the DeltaKV layers' device between steps: made afresh as inputs every
// step they cost a 128K-token sequence about 4 ms of host time and 4 MB of copies before each step's first kernel
// (H200 profile). Each is brought up to date only where the memory changed beyond appended tokens.
//
//   candidate table: decode's candidates (spec 6.3), per cell of the full cache: a compressed token's latent slot,
//                    position and, for a center, its exact row. One token of the sequence it was made for scores
//                    every cell in place through the mask; a batch gathers the rest for its own lists.
//   cell table:      every cell's sequence (-1 if empty) and position, from which the full layers' mask is made on
//                    the backend (a host mask is [cells x tokens]: for 12 sequences at 32K on the H200 most of a step's
//                    27 ms of host time before its first kernel).

#include "llama-deltakv-store.h"

#include "llama-batch.h"
#include "llama-kv-cells.h"

#include "ggml-cpp.h"

#include <cstdint>
#include <map>
#include <vector>

class llama_deltakv_tables {
public:
    struct cand_table {
        ggml_tensor * cell  = nullptr; // I32 [kv_size] the identity: candidates are read in place
        ggml_tensor * mask  = nullptr; // F32 [kv_size] 0 for a compressed token of the sequence, -inf otherwise
        ggml_tensor * slot  = nullptr; // I32 [kv_size] a compressed token's latent slot (of any sequence)
        ggml_tensor * pos   = nullptr; // I32 [kv_size] its position
        ggml_tensor * row   = nullptr; // I32 [kv_size] the exact row of a center
        ggml_tensor * exact = nullptr; // F32 [kv_size] 1 for a center (served exactly), else 0
    };

    struct cell_table {
        ggml_tensor * seq = nullptr; // F32 [kv_size]
        ggml_tensor * pos = nullptr; // F32 [kv_size]
    };

    // tables of kv_size cells in buft, with no candidates and every cell empty; rescan: the candidate table is rebuilt
    // by a pass over every cell whenever it changes (a test of the incremental update)
    llama_deltakv_tables(ggml_backend_buffer_type_t buft, uint32_t kv_size, bool rescan);

    const cand_table & get_cand_table() const { return cand; }
    const cell_table & get_cell_table() const { return cells_tab; }

    ggml_backend_buffer_t get_buffer() const { return buf.get(); }

    // the candidate table of sequence seq_id, for the memory at `version` whose cells changed last at `cells_epoch`
    // (no graph may be reading it); it also learns each position's cell (llama_deltakv_sequence::cell_of_pos)
    void sync_cand_table(llama_seq_id seq_id, const llama_kv_cells & cells,
                         std::map<llama_seq_id, llama_deltakv_sequence> & seqs, uint64_t version, uint64_t cells_epoch);

    // the cell table after a ubatch was placed in cells `written` (no graph may be reading it)
    void sync_cell_table(const llama_kv_cells & cells, const int64_t * written, int32_t n_written, uint64_t cells_epoch);

    // the full-layer cells a ubatch's tokens went to (cells[i] for token i), so that a commit can find its block's
    static void note_cells(const llama_ubatch & ubatch, const int64_t * cells,
                           std::map<llama_seq_id, llama_deltakv_sequence> & seqs);

    // a block of positions [p0, p1) of sequence seq_id was compressed: only its cells' candidate entries change
    void block_committed(llama_seq_id seq_id, int32_t p0, int32_t p1);

    // the cells changed otherwise (a sequence operation, a clear, a state read)
    void cells_changed() { committed.clear(); }

private:
    cand_table              cand;
    cell_table              cells_tab;
    ggml_context_ptr        ctx;
    ggml_backend_buffer_ptr buf;

    const bool rescan;

    // the candidate table's host image, and the sequence and memory version it was made for
    std::vector<int32_t> table_slot, table_pos, table_row;
    std::vector<float>   table_mask, table_exact;
    llama_seq_id         table_seq     = -1;
    uint64_t             table_version = 0;
    // the candidate table's last pass over every cell was made at this cells epoch; since then only the blocks in
    // `committed` changed entries (a commit changes no cell: its block's cells become candidates)
    uint64_t             table_cells_epoch = 0;

    struct committed_block { llama_seq_id seq; int32_t p0, p1; };
    std::vector<committed_block> committed;

    // the cell table's host image, and the cells epoch it was made for
    std::vector<float> cells_seq, cells_pos;
    uint64_t           cells_version = 0;

    // the cells of the blocks committed since the last sync, if every one is known; false: a pass is needed
    bool committed_cells(const llama_kv_cells & cells, const std::map<llama_seq_id, llama_deltakv_sequence> & seqs,
                         std::vector<int64_t> & out) const;
};
