package io.github.deltakv.calibration;

import io.github.deltakv.langchain4j.DeltaKvException;
import io.github.deltakv.langchain4j.internal.LlamaNative;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What a DeltaKV compressor must match in a model: architecture, layers, KV heads and head size; and, where known,
 * the model it is made for ({@code identity}, recorded in the side file). The compressed vector of a token in a
 * layer is {@code [K_pre | V]} of all KV heads: {@link #kvDim()} wide.
 */
public record ModelShape(String architecture, int layers, int kvHeads, int headDim, ModelIdentity identity) {

    public ModelShape(String architecture, int layers, int kvHeads, int headDim) {
        this(architecture, layers, kvHeads, headDim, null);
    }

    public int kvDim() {
        return 2 * kvHeads * headDim;
    }

    /** This shape, made for the model {@code identity}. */
    public ModelShape withIdentity(ModelIdentity identity) {
        return new ModelShape(architecture, layers, kvHeads, headDim, identity);
    }

    /** The shape of a loaded model (native handle), from its GGUF metadata. */
    static ModelShape of(long model) {
        String arch = LlamaNative.modelMeta(model, "general.architecture");
        int layers = intMeta(model, arch + ".block_count");
        int heads = intMeta(model, arch + ".attention.head_count");
        int kvHeads = intMeta(model, arch + ".attention.head_count_kv");
        String keyLength = LlamaNative.modelMeta(model, arch + ".attention.key_length");
        int headDim = keyLength != null ? Integer.parseInt(keyLength.strip())
                : intMeta(model, arch + ".embedding_length") / heads;
        return new ModelShape(arch, layers, kvHeads, headDim);
    }

    /** The shape of a GGUF model file, read from its metadata (its weights are not loaded). */
    public static ModelShape of(Path gguf) throws IOException {
        GgufReader r = GgufReader.open(gguf);
        String arch = r.string("general.architecture");
        if (arch == null) {
            throw new DeltaKvException("no general.architecture in " + gguf);
        }
        int layers = intMeta(r, arch + ".block_count");
        int heads = intMeta(r, arch + ".attention.head_count");
        int kvHeads = intMeta(r, arch + ".attention.head_count_kv");
        Long keyLength = r.integer(arch + ".attention.key_length");
        int headDim = keyLength != null ? keyLength.intValue() : intMeta(r, arch + ".embedding_length") / heads;
        String name = r.string("general.name");
        return new ModelShape(arch, layers, kvHeads, headDim,
                new ModelIdentity(name == null ? "" : name, ModelIdentity.layout(r.tensors())));
    }

    private static int intMeta(GgufReader r, String key) {
        Long v = r.integer(key);
        if (v == null) {
            throw new DeltaKvException("the model has no single " + key + " (DeltaKV needs one KV head count for every layer)");
        }
        return v.intValue();
    }

    private static int intMeta(long model, String key) {
        String v = LlamaNative.modelMeta(model, key);
        if (v == null) {
            throw new DeltaKvException("the model has no " + key + " (DeltaKV needs one KV head count for every layer)");
        }
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new DeltaKvException("the model's " + key + " is not one number: " + v);
        }
    }
}
