package io.github.deltakv.calibration;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The model a compressor is made for, as its side file records it: the model's name and a digest of its tensor
 * layout (FNV-1a 64 over {@code name:ne0,ne1,ne2,ne3\n} of every tensor, by name), which models of one family and size
 * share whatever their quantisation. Loading a side file for a model of another layout logs a warning.
 */
public record ModelIdentity(String name, String layout) {

    /** The identity of a GGUF model file, from its header. */
    public static ModelIdentity of(Path gguf) throws IOException {
        GgufReader r = GgufReader.open(gguf);
        String name = r.string("general.name");
        return new ModelIdentity(name == null ? "" : name, layout(r.tensors()));
    }

    static String layout(Map<String, GgufReader.TensorInfo> tensors) {
        long h = 0xcbf29ce484222325L;
        for (GgufReader.TensorInfo t : new TreeMap<>(tensors).values()) {
            long[] ne = {1, 1, 1, 1};
            System.arraycopy(t.shape(), 0, ne, 0, Math.min(4, t.shape().length));
            String line = t.name() + ":" + ne[0] + "," + ne[1] + "," + ne[2] + "," + ne[3] + "\n";
            for (byte c : line.getBytes(StandardCharsets.UTF_8)) {
                h = (h ^ (c & 0xff)) * 0x100000001b3L;
            }
        }
        return String.format("%016x", h);
    }
}
