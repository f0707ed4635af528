package io.github.deltakv.calibration;


import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes DeltaKV compressor side files (format: {@code llamacpp-patch/docs/deltakv-side-file.md}) with a
 * linear or SwiGLU encoder and a linear decoder. Matrices are row-major {@code float[]} as in PyTorch
 * ({@code out x in}): e.g. the linear encoder {@code d x kvDim} (z = E x), the decoder {@code kvDim x d}
 * (x = D z + b).
 */
public final class DeltaKvSideFile {

    /** The settings a side file carries (the paper's: sink 8, recent 128, 4 neighbours, stride 10, top-k 2048). */
    public record Settings(List<Integer> fullLayers, int latentDim, int latentBits, int sink, int recent,
                           int neighbors, int stride, int topK) {

        public static Settings paper(List<Integer> fullLayers, int latentDim, int latentBits) {
            return new Settings(fullLayers, latentDim, latentBits, 8, 128, 4, 10, 2048);
        }
    }

    /** A compressed layer's linear encoder, decoder and decoder bias (null: none). */
    public record LinearLayer(float[] encoder, float[] decoder, float[] decoderBias) {
    }

    /**
     * A compressed layer with the paper's compressor: SwiGLU encoder {@code w12 (2ff x kvDim, gate rows
     * first)}, {@code w3 (d x ff)}, linear decoder {@code kvDim x d}; biases null when absent.
     */
    public record SwigluLayer(float[] w12, float[] w12Bias, float[] w3, float[] w3Bias, float[] decoder,
                              float[] decoderBias) {
    }

    private DeltaKvSideFile() {
    }

    /** A SwiGLU compressor; weight matrices in {@code weights} (F32 or BF16), biases F32. */
    public static void writeSwiglu(Path out, ModelShape shape, Settings s, int ff, Map<Integer, SwigluLayer> layers,
                                   GgufWriter.TensorType weights) throws IOException {
        int kvDim = shape.kvDim();
        int d = s.latentDim();
        GgufWriter w = header(shape, s, "swiglu").putUInt32("deltakv.encoder_ff", ff);
        for (int il = 0; il < shape.layers(); il++) {
            if (s.fullLayers().contains(il)) {
                continue;
            }
            SwigluLayer l = layers.get(il);
            if (l == null) {
                throw new IllegalArgumentException("no compressor for DeltaKV layer " + il);
            }
            String b = "blk." + il + ".";
            w.putTensor(b + "dkv_enc_w12.weight", weights, l.w12(), kvDim, 2L * ff);
            if (l.w12Bias() != null) {
                w.putTensor(b + "dkv_enc_w12.bias", l.w12Bias(), 2L * ff);
            }
            w.putTensor(b + "dkv_enc_w3.weight", weights, l.w3(), ff, d);
            if (l.w3Bias() != null) {
                w.putTensor(b + "dkv_enc_w3.bias", l.w3Bias(), d);
            }
            w.putTensor(b + "dkv_dec.weight", weights, l.decoder(), d, kvDim);
            if (l.decoderBias() != null) {
                w.putTensor(b + "dkv_dec.bias", l.decoderBias(), kvDim);
            }
        }
        w.write(out);
    }

    public static void writeLinear(Path out, ModelShape shape, Settings s, Map<Integer, LinearLayer> layers)
            throws IOException {
        int kvDim = shape.kvDim();
        int d = s.latentDim();
        GgufWriter w = header(shape, s, "linear");
        for (int il = 0; il < shape.layers(); il++) {
            if (s.fullLayers().contains(il)) {
                continue;
            }
            LinearLayer l = layers.get(il);
            if (l == null) {
                throw new IllegalArgumentException("no compressor for DeltaKV layer " + il);
            }
            w.putTensor("blk." + il + ".dkv_enc.weight", l.encoder(), kvDim, d);
            w.putTensor("blk." + il + ".dkv_dec.weight", l.decoder(), d, kvDim);
            if (l.decoderBias() != null) {
                w.putTensor("blk." + il + ".dkv_dec.bias", l.decoderBias(), kvDim);
            }
        }
        w.write(out);
    }

    private static GgufWriter header(ModelShape shape, Settings s, String encoder) {
        int kvDim = shape.kvDim();
        int d = s.latentDim();
        GgufWriter w = new GgufWriter()
                .putString("general.type", "deltakv")
                .putString("general.architecture", shape.architecture())
                .putUInt32("deltakv.version", 1);
        if (shape.identity() != null) {
            w.putString("deltakv.model.name", shape.identity().name())
                    .putString("deltakv.model.layout", shape.identity().layout());
        }
        return w
                .putUInt32("deltakv.n_layer", shape.layers())
                .putUInt32("deltakv.n_head_kv", shape.kvHeads())
                .putUInt32("deltakv.head_dim", shape.headDim())
                .putUInt32("deltakv.kv_dim", kvDim)
                .putUInt32("deltakv.latent_dim", d)
                .putString("deltakv.encoder", encoder)
                .putString("deltakv.decoder", "linear")
                .putInt32Array("deltakv.full_layers", s.fullLayers().stream().mapToInt(Integer::intValue).toArray())
                .putUInt32("deltakv.n_sink", s.sink())
                .putUInt32("deltakv.n_recent", s.recent())
                .putUInt32("deltakv.n_neighbors", s.neighbors())
                .putUInt32("deltakv.center_stride", s.stride())
                .putUInt32("deltakv.top_k", s.topK())
                .putUInt32("deltakv.latent_bits", s.latentBits())
                .putUInt32("deltakv.latent_group", 32);
    }

    /**
     * The identity compressor (latent = kvDim, E = D = I, F16 latents) with these settings' layers and
     * reference rule: lossless; calibration runs on it.
     */
    public static void writeIdentity(Path out, ModelShape shape, Settings settings) throws IOException {
        int n = shape.kvDim();
        float[] eye = new float[n * n];
        for (int i = 0; i < n; i++) {
            eye[i * n + i] = 1;
        }
        Map<Integer, LinearLayer> layers = new java.util.HashMap<>();
        for (int il = 0; il < shape.layers(); il++) {
            layers.put(il, new LinearLayer(eye, eye, null));
        }
        writeLinear(out, shape, new Settings(settings.fullLayers(), n, 16, settings.sink(), settings.recent(),
                settings.neighbors(), settings.stride(), settings.topK()), layers);
    }
}
