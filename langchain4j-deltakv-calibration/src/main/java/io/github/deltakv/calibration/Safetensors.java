package io.github.deltakv.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads tensors from safetensors files: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. A directory is read as all its {@code *.safetensors}
 * files (one file or the shards of a checkpoint). BF16, F16 and F32 become {@code float[]}.
 */
final class Safetensors {

    record Tensor(String name, String dtype, long[] shape, Path file, long offset, long length) {

        long elements() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private Safetensors() {
    }

    static Safetensors open(Path fileOrDir) throws IOException {
        Safetensors st = new Safetensors();
        List<Path> files;
        if (Files.isDirectory(fileOrDir)) {
            try (Stream<Path> s = Files.list(fileOrDir)) {
                files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            }
            if (files.isEmpty()) {
                throw new IOException("no .safetensors file in " + fileOrDir);
            }
        } else {
            files = List.of(fileOrDir);
        }
        for (Path f : files) {
            st.readHeader(f);
        }
        return st;
    }

    private void readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(len, 0) != 8) {
                throw new IOException("not a safetensors file (too short): " + file);
            }
            long n = len.getLong(0);
            if (n <= 0 || n > 100_000_000 || 8 + n > ch.size()) {
                throw new IOException("not a safetensors file (header length " + n + "): " + file);
            }
            ByteBuffer json = ByteBuffer.allocate((int) n);
            ch.read(json, 8);
            JsonNode root = new ObjectMapper().readTree(json.array());
            long data = 8 + n;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonNode t = e.getValue();
                long[] shape = new long[t.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.get("shape").get(i).asLong();
                }
                long start = t.get("data_offsets").get(0).asLong();
                long end = t.get("data_offsets").get(1).asLong();
                if (data + end > ch.size() || end < start) {
                    throw new IOException("tensor " + e.getKey() + " lies outside " + file);
                }
                tensors.put(e.getKey(), new Tensor(e.getKey(), t.get("dtype").asText(), shape, file, data + start,
                        end - start));
            }
        }
    }

    Tensor get(String name) {
        return tensors.get(name);
    }

    Map<String, Tensor> all() {
        return tensors;
    }

    static float[] read(Tensor t) throws IOException {
        int size = switch (t.dtype()) {
            case "BF16", "F16" -> 2;
            case "F32" -> 4;
            default -> throw new IOException("tensor " + t.name() + " has dtype " + t.dtype() + " (BF16, F16 or F32 expected)");
        };
        if (t.length() != t.elements() * size) {
            throw new IOException("tensor " + t.name() + ": " + t.length() + " bytes for shape " + java.util.Arrays.toString(t.shape()));
        }
        float[] out = new float[Math.toIntExact(t.elements())];
        try (FileChannel ch = FileChannel.open(t.file(), StandardOpenOption.READ)) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, t.offset(), t.length()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (t.dtype()) {
                    case "BF16" -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
                    case "F16" -> halfToFloat(b.getShort());
                    default -> b.getFloat();
                };
            }
        }
        return out;
    }

    // IEEE 754 binary16 -> float (Java 17 has no Float.float16ToFloat)
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf, nan
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant / 1024f / 16384f; // subnormal: mant * 2^-24
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
}
