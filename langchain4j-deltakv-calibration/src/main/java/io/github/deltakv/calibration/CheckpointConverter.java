package io.github.deltakv.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.github.deltakv.langchain4j.DeltaKvException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts the paper's compressor checkpoints (Hugging Face {@code JitaiHao/*-Compressor}: safetensors with
 * {@code model.layers.{i}.self_attn.compress_down.w12.weight [2I, kv_dim]}, {@code .w3.weight [d, I]} and
 * {@code compress_up.weight [kv_dim, d]}, optional biases; keys without the layer prefix are shared by all
 * layers) into a DeltaKV side file for a GGUF model (DeltaKV spec 8).
 *
 * <p>Llama-family GGUF files store K with the rows of each head permuted (llama.cpp's converter:
 * {@code K_gguf[2i + j] = K_hf[j D/2 + i]}), while the compressor was trained on Hugging Face's order; the
 * converter applies the same permutation to the K columns of the encoder's input and the K rows of the
 * decoder's output (spec 8.3). Qwen2 keeps Hugging Face's order.
 *
 * <p>The checkpoint's {@code config.json} (beside its safetensors), where present, gives the reference rule it was
 * trained with: neighbours ({@code deltakv_k_neighbors}, {@code deltakv_neighbor_count}, or the paper-era
 * {@code seq_chunk_size}) and stride ({@code 1 / cluster_ratio}); a checkpoint trained otherwise than this engine
 * runs (another {@code cluster_metric} than L2, {@code split_kv}) is refused. Weights stay BF16 when the checkpoint's
 * are (the paper's are), else F32.
 */
public final class CheckpointConverter {

    /** What was converted, and where its reference rule came from ({@code config.json} or the paper's defaults). */
    public record Result(Path sideFile, String encoder, int latentDim, int hiddenDim, boolean kPermuted,
                         List<Integer> layers, int neighbors, int stride, String settingsFrom,
                         GgufWriter.TensorType weights) {
    }

    /** The reference rule a checkpoint was trained with. */
    record TrainingConfig(int neighbors, int stride, Integer latentDim, String from) {
        static final TrainingConfig PAPER = new TrainingConfig(4, 10, null, "the paper's defaults");
    }

    private CheckpointConverter() {
    }

    /**
     * @param fullLayers null: the paper's set for Llama-3.1-8B (32 layers: 0,1,2,8,18) and Qwen2.5-7B (28 layers:
     *                   0,1,2,4,7,14) shapes, required otherwise
     * @param permuteK   null: for the {@code llama} architecture
     */
    public static Result convert(Path checkpoint, Path modelGguf, Path out, List<Integer> fullLayers, int latentBits,
                                 Boolean permuteK) throws IOException {
        ModelShape shape = ModelShape.of(modelGguf);
        List<Integer> full = fullLayers != null ? fullLayers : paperFullLayers(shape);
        boolean permute = permuteK != null ? permuteK : shape.architecture().equals("llama");
        TrainingConfig config = trainingConfig(checkpoint);
        Safetensors st = Safetensors.open(checkpoint);
        boolean bf16 = true;
        int kvDim = shape.kvDim();

        Map<Integer, DeltaKvSideFile.SwigluLayer> layers = new LinkedHashMap<>();
        int d = -1;
        int ff = -1;
        List<Integer> compressed = new java.util.ArrayList<>();
        for (int il = 0; il < shape.layers(); il++) {
            if (full.contains(il)) {
                continue;
            }
            compressed.add(il);
            String p = "model.layers." + il + ".self_attn.";
            Safetensors.Tensor w12 = tensor(st, p, "compress_down.w12.weight");
            if (w12 == null) {
                if (tensor(st, p, "compress_down.weight") != null || tensor(st, p, "compress_down.0.weight") != null) {
                    throw new DeltaKvException("layer " + il + ": only the SwiGLU encoder of the paper's checkpoints is "
                            + "supported (compress_down.w12 / w3); this checkpoint has another kind");
                }
                throw new DeltaKvException("no compressor for layer " + il + " in " + checkpoint + " (expected " + p
                        + "compress_down.w12.weight)");
            }
            Safetensors.Tensor w3 = require(st, p, "compress_down.w3.weight", il);
            Safetensors.Tensor up = require(st, p, "compress_up.weight", il);
            if (w12.shape().length != 2 || w12.shape()[1] != kvDim || w12.shape()[0] % 2 != 0) {
                throw new DeltaKvException("layer " + il + ": w12 has shape " + java.util.Arrays.toString(w12.shape())
                        + ", expected [2I, " + kvDim + "] for this model's [K | V] width " + kvDim);
            }
            int lff = (int) (w12.shape()[0] / 2);
            int ld = (int) w3.shape()[0];
            if (w3.shape()[1] != lff || up.shape()[0] != kvDim || up.shape()[1] != ld) {
                throw new DeltaKvException("layer " + il + ": inconsistent shapes: w12 " + java.util.Arrays.toString(w12.shape())
                        + ", w3 " + java.util.Arrays.toString(w3.shape()) + ", compress_up " + java.util.Arrays.toString(up.shape()));
            }
            if ((d >= 0 && d != ld) || (ff >= 0 && ff != lff)) {
                throw new DeltaKvException("layer " + il + ": latent " + ld + " / hidden " + lff + " differ from other layers' "
                        + d + " / " + ff);
            }
            d = ld;
            ff = lff;
            bf16 &= w12.dtype().equals("BF16") && w3.dtype().equals("BF16") && up.dtype().equals("BF16");
            float[] w12v = Safetensors.read(w12);
            float[] upv = Safetensors.read(up);
            float[] upb = optional(st, p, "compress_up.bias");
            if (permute) {
                w12v = permuteColumns(w12v, 2 * ff, kvDim, shape.kvHeads(), shape.headDim());
                upv = permuteRows(upv, kvDim, d, shape.kvHeads(), shape.headDim());
                if (upb != null) {
                    upb = permuteRows(upb, kvDim, 1, shape.kvHeads(), shape.headDim());
                }
            }
            layers.put(il, new DeltaKvSideFile.SwigluLayer(w12v, optional(st, p, "compress_down.w12.bias"),
                    Safetensors.read(w3), optional(st, p, "compress_down.w3.bias"), upv, upb));
        }
        if (config.latentDim() != null && config.latentDim() != d) {
            throw new DeltaKvException("config.json says kv_compressed_size " + config.latentDim() + ", the tensors have "
                    + "latent " + d);
        }
        DeltaKvSideFile.Settings paper = DeltaKvSideFile.Settings.paper(full, d, latentBits);
        DeltaKvSideFile.Settings settings = new DeltaKvSideFile.Settings(full, d, latentBits, paper.sink(),
                paper.recent(), config.neighbors(), config.stride(), paper.topK());
        GgufWriter.TensorType weights = bf16 ? GgufWriter.TensorType.BF16 : GgufWriter.TensorType.F32;
        DeltaKvSideFile.writeSwiglu(out, shape, settings, ff, layers, weights);
        return new Result(out, "swiglu", d, ff, permute, compressed, config.neighbors(), config.stride(),
                config.from(), weights);
    }

    /** The reference rule from the checkpoint's config.json (in its directory, or beside the file), else the paper's. */
    static TrainingConfig trainingConfig(Path checkpoint) throws IOException {
        Path dir = Files.isDirectory(checkpoint) ? checkpoint : checkpoint.toAbsolutePath().getParent();
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            return TrainingConfig.PAPER;
        }
        JsonNode c = new ObjectMapper().readTree(file.toFile());
        String metric = c.path("cluster_metric").asText("l2");
        if (!metric.equalsIgnoreCase("l2")) {
            throw new DeltaKvException("the checkpoint was trained with cluster_metric '" + metric + "'; this engine "
                    + "finds references by L2 distance");
        }
        if (c.path("split_kv").asBoolean(false)) {
            throw new DeltaKvException("the checkpoint compresses K and V apart (split_kv); this engine compresses "
                    + "[K | V] together");
        }
        int neighbors = TrainingConfig.PAPER.neighbors();
        for (String key : List.of("deltakv_k_neighbors", "deltakv_neighbor_count", "seq_chunk_size")) {
            if (c.hasNonNull(key)) {
                neighbors = c.get(key).asInt();
                break;
            }
        }
        if (neighbors < 1 || neighbors > 8) {
            throw new DeltaKvException("the checkpoint was trained with " + neighbors + " neighbours; this engine "
                    + "averages 1 to 8");
        }
        int stride = TrainingConfig.PAPER.stride();
        JsonNode ratio = c.hasNonNull("cluster_ratio") ? c.get("cluster_ratio") : c.get("deltakv_center_ratio");
        if (ratio != null && !ratio.isNull()) {
            double r = ratio.asDouble();
            if (!(r > 0 && r <= 0.5)) {
                throw new DeltaKvException("cluster_ratio " + r + " is out of range (0, 0.5]: at most every other "
                        + "token a reference");
            }
            stride = Math.max(1, (int) (1 / r));
        }
        Integer latent = c.hasNonNull("kv_compressed_size") ? c.get("kv_compressed_size").asInt() : null;
        return new TrainingConfig(neighbors, stride, latent, file.toString());
    }

    static List<Integer> paperFullLayers(ModelShape s) {
        if (s.architecture().equals("llama") && s.layers() == 32 && s.kvHeads() == 8 && s.headDim() == 128) {
            return List.of(0, 1, 2, 8, 18);
        }
        if (s.architecture().equals("qwen2") && s.layers() == 28 && s.kvHeads() == 4 && s.headDim() == 128) {
            return List.of(0, 1, 2, 4, 7, 14);
        }
        throw new IllegalArgumentException("give the full layers: the paper's sets are known for Llama-3.1-8B and "
                + "Qwen2.5-7B shapes only, not " + s);
    }

    /** Hugging Face index of the K dimension that llama.cpp stores at index g (per head of size headDim). */
    static int hfIndexOfGguf(int g, int headDim) {
        int head = g / headDim;
        int r = g % headDim;
        int i = r / 2;
        int j = r % 2;
        return head * headDim + j * headDim / 2 + i;
    }

    // columns [0, kvHeads * headDim) of a rows x cols matrix (the K part of [K | V]) into llama.cpp's order
    static float[] permuteColumns(float[] m, int rows, int cols, int kvHeads, int headDim) {
        float[] out = m.clone();
        int kWidth = kvHeads * headDim;
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < kWidth; g++) {
                out[r * cols + g] = m[r * cols + hfIndexOfGguf(g, headDim)];
            }
        }
        return out;
    }

    // rows [0, kvHeads * headDim) of a rows x cols matrix into llama.cpp's order
    static float[] permuteRows(float[] m, int rows, int cols, int kvHeads, int headDim) {
        float[] out = m.clone();
        int kWidth = kvHeads * headDim;
        for (int g = 0; g < kWidth; g++) {
            System.arraycopy(m, hfIndexOfGguf(g, headDim) * cols, out, g * cols, cols);
        }
        return out;
    }

    private static Safetensors.Tensor tensor(Safetensors st, String prefix, String name) {
        Safetensors.Tensor t = st.get(prefix + name);
        return t != null ? t : st.get(name); // shared across layers
    }

    private static Safetensors.Tensor require(Safetensors st, String prefix, String name, int il) {
        Safetensors.Tensor t = tensor(st, prefix, name);
        if (t == null) {
            throw new DeltaKvException("layer " + il + ": " + prefix + name + " is missing");
        }
        return t;
    }

    private static float[] optional(Safetensors st, String prefix, String name) throws IOException {
        Safetensors.Tensor t = tensor(st, prefix, name);
        return t == null ? null : Safetensors.read(t);
    }
}
