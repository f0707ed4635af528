#include "llama-deltakv-tables.h"

#include "llama-impl.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

// elements [lo, hi) of a 1-d table, from its host image
static void upload_range(ggml_tensor * t, const void * host, int64_t lo, int64_t hi) {
    const size_t es = ggml_element_size(t);
    ggml_backend_tensor_set(t, (const char *) host + lo * es, lo * es, (hi - lo) * es);
}

llama_deltakv_tables::llama_deltakv_tables(ggml_backend_buffer_type_t buft, uint32_t kv_size, bool rescan) :
    rescan(rescan) {
    const ggml_init_params params = { 8 * ggml_tensor_overhead(), nullptr, true };
    ctx.reset(ggml_init(params));
    cand.cell     = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_I32, kv_size);
    cand.mask     = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, kv_size);
    cand.slot     = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_I32, kv_size);
    cand.pos      = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_I32, kv_size);
    cand.row      = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_I32, kv_size);
    cand.exact    = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, kv_size);
    cells_tab.seq = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, kv_size);
    cells_tab.pos = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, kv_size);
    buf.reset(ggml_backend_alloc_ctx_tensors_from_buft(ctx.get(), buft));
    if (!buf) {
        throw std::runtime_error(format("failed to allocate the DeltaKV candidate and cell tables (%s)",
                                        ggml_backend_buft_name(buft)));
    }
    // no candidates yet
    std::vector<int32_t> cell(kv_size);
    for (uint32_t c = 0; c < kv_size; ++c) {
        cell[c] = (int32_t) c;
    }
    table_slot.assign(kv_size, 0);
    table_pos.assign(kv_size, 0);
    table_row.assign(kv_size, 0);
    table_mask.assign(kv_size, -INFINITY);
    table_exact.assign(kv_size, 0.0f);
    upload_range(cand.cell,  cell.data(),        0, kv_size);
    upload_range(cand.mask,  table_mask.data(),  0, kv_size);
    upload_range(cand.slot,  table_slot.data(),  0, kv_size);
    upload_range(cand.pos,   table_pos.data(),   0, kv_size);
    upload_range(cand.row,   table_row.data(),   0, kv_size);
    upload_range(cand.exact, table_exact.data(), 0, kv_size);
    // every cell empty
    cells_seq.assign(kv_size, -1.0f);
    cells_pos.assign(kv_size, 0.0f);
    upload_range(cells_tab.seq, cells_seq.data(), 0, kv_size);
    upload_range(cells_tab.pos, cells_pos.data(), 0, kv_size);
}

bool llama_deltakv_tables::committed_cells(const llama_kv_cells & cells,
                                           const std::map<llama_seq_id, llama_deltakv_sequence> & seqs,
                                           std::vector<int64_t> & out) const {
    for (const auto & b : committed) {
        const auto it = seqs.find(b.seq);
        if (it == seqs.end()) {
            return false;
        }
        const auto & cell_of_pos = it->second.cell_of_pos;
        for (int32_t p = b.p0; p < b.p1; ++p) {
            const int64_t c = p < (int32_t) cell_of_pos.size() ? cell_of_pos[p] : -1;
            if (c < 0 || cells.is_empty(c) || cells.pos_get(c) != p || cells.seq_count(c) != 1 ||
                !cells.seq_has(c, b.seq)) {
                return false;
            }
            out.push_back(c);
        }
    }
    return true;
}

void llama_deltakv_tables::note_cells(const llama_ubatch & ubatch, const int64_t * cells,
                                      std::map<llama_seq_id, llama_deltakv_sequence> & seqs) {
    for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
        const auto it = ubatch.n_seq_id[i] == 1 ? seqs.find(ubatch.seq_id[i][0]) : seqs.end();
        if (it == seqs.end() || ubatch.pos[i] < 0) {
            continue;
        }
        auto & cell_of_pos = it->second.cell_of_pos;
        if ((size_t) ubatch.pos[i] >= cell_of_pos.size()) {
            cell_of_pos.resize((size_t) ubatch.pos[i] + 1, -1);
        }
        cell_of_pos[ubatch.pos[i]] = (int32_t) cells[i];
    }
}

void llama_deltakv_tables::block_committed(llama_seq_id seq_id, int32_t p0, int32_t p1) {
    committed.push_back({ seq_id, p0, p1 });
    if (committed.size() > 4096) { // the table not synced for long (no top-k decode): its next sync passes every cell
        committed.clear();
        table_cells_epoch = 0;
    }
}

void llama_deltakv_tables::sync_cand_table(llama_seq_id seq_id, const llama_kv_cells & cells,
                                           std::map<llama_seq_id, llama_deltakv_sequence> & seqs, uint64_t version,
                                           uint64_t cells_epoch) {
    if (seq_id == table_seq && version == table_version) {
        return; // tokens were only appended: they are not compressed, and their cells held no candidates
    }
    // each compressed token's slot, position and row, as its own sequence has them (a cell shared by sequences: as
    // seq_id has them); the mask, seq_id's own
    std::vector<llama_deltakv_sequence *> state_of(LLAMA_MAX_SEQ, nullptr);
    for (auto & [id, st] : seqs) {
        state_of[id] = &st;
    }
    const int64_t n_cells = (int64_t) table_mask.size();
    int64_t lo = n_cells, hi = 0; // the cells whose entry changed
    auto sync_entry = [&](int64_t c) {
        float   mask = -INFINITY, exact = 0.0f;
        int32_t slot = 0, pos = 0, row = 0;
        const llama_seq_id owner = cells.is_empty(c) ? -1 : cells.seq_has(c, seq_id) ? seq_id :
                                   cells.seq_count(c) == 1 ? cells.seq_get(c) : -1;
        const llama_deltakv_sequence * s = owner >= 0 ? state_of[owner] : nullptr;
        if (s != nullptr) {
            const llama_pos p = cells.pos_get(c);
            if (p >= s->plan.n_sink() && p < s->plan.n_sink() + s->plan.n_compressed()) {
                mask = owner == seq_id ? 0.0f : -INFINITY;
                pos  = p;
                if (s->slot_of_pos[p] >= 0) {
                    slot = s->slot_of_pos[p];
                } else {
                    row   = s->row_of_pos[p];
                    exact = 1.0f;
                }
            }
        }
        if (mask != table_mask[c] || slot != table_slot[c] || pos != table_pos[c] || row != table_row[c] ||
            exact != table_exact[c]) {
            table_mask[c] = mask, table_slot[c] = slot, table_pos[c] = pos, table_row[c] = row, table_exact[c] = exact;
            lo = std::min(lo, c);
            hi = std::max(hi, c + 1);
        }
    };
    // since the last pass over every cell (for the same sequence) only blocks were committed: only their cells change
    // (a pass is 128K cells at 128K: ~2 ms of a commit's step on the H200's host)
    std::vector<int64_t> changed;
    if (seq_id == table_seq && cells_epoch == table_cells_epoch && !rescan && committed_cells(cells, seqs, changed)) {
        for (int64_t c : changed) {
            sync_entry(c);
        }
    } else {
        for (auto & [id, st] : seqs) {
            st.cell_of_pos.assign(st.row_of_pos.size(), -1);
        }
        for (int64_t c = 0; c < n_cells; ++c) {
            sync_entry(c);
            if (!cells.is_empty(c) && cells.seq_count(c) == 1) {
                llama_deltakv_sequence * s = state_of[cells.seq_get(c)];
                const llama_pos p = cells.pos_get(c);
                if (s != nullptr && p >= 0 && p < (llama_pos) s->cell_of_pos.size()) {
                    s->cell_of_pos[p] = (int32_t) c;
                }
            }
        }
        table_cells_epoch = cells_epoch;
    }
    committed.clear();
    if (lo < hi) {
        upload_range(cand.mask,  table_mask.data(),  lo, hi);
        upload_range(cand.slot,  table_slot.data(),  lo, hi);
        upload_range(cand.pos,   table_pos.data(),   lo, hi);
        upload_range(cand.row,   table_row.data(),   lo, hi);
        upload_range(cand.exact, table_exact.data(), lo, hi);
    }
    table_seq     = seq_id;
    table_version = version;
}

void llama_deltakv_tables::sync_cell_table(const llama_kv_cells & cells, const int64_t * written, int32_t n_written,
                                           uint64_t cells_epoch) {
    int64_t lo = (int64_t) cells_seq.size(), hi = 0; // the cells whose entry changed
    auto update = [&](int64_t c) {
        const bool  empty = cells.is_empty(c);
        const float seq   = empty ? -1.0f : (float) cells.seq_get(c);
        const float pos   = empty ?  0.0f : (float) cells.pos_get(c);
        if (seq != cells_seq[c] || pos != cells_pos[c]) {
            cells_seq[c] = seq;
            cells_pos[c] = pos;
            lo = std::min(lo, c);
            hi = std::max(hi, c + 1);
        }
    };
    if (cells_version != cells_epoch) {
        for (int64_t c = 0; c < (int64_t) cells_seq.size(); ++c) {
            update(c);
        }
        cells_version = cells_epoch;
    } else {
        for (int32_t i = 0; i < n_written; ++i) { // appended tokens changed only the cells they went to
            update(written[i]);
        }
    }
    if (lo < hi) {
        upload_range(cells_tab.seq, cells_seq.data(), lo, hi);
        upload_range(cells_tab.pos, cells_pos.data(), lo, hi);
    }
}
