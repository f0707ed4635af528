package io.github.deltakv.calibration;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the metadata of a GGUF file (versions 2 and 3) without its tensors' data: scalars and strings as
 * Java values, arrays of numbers as {@code List}; tensor names, shapes and types. F32 tensors can be read.
 */
public final class GgufReader {

    /** A tensor's name, shape (ggml order) and ggml type, and where its data starts in the file. */
    public record TensorInfo(String name, long[] shape, int type, long fileOffset) {
    }

    private final Path path;
    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final Map<String, TensorInfo> tensors = new LinkedHashMap<>();

    private GgufReader(Path path) {
        this.path = path;
    }

    public static GgufReader open(Path path) throws IOException {
        GgufReader r = new GgufReader(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            // metadata fits in the first bytes of any model we read (vocabularies included): map up to 256 MiB
            long size = Math.min(ch.size(), 256L << 20);
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
            r.parse(b);
        } catch (RuntimeException e) {
            throw new IOException("not a readable GGUF file: " + path + " (" + e + ")", e);
        }
        return r;
    }

    private void parse(ByteBuffer b) throws IOException {
        byte[] magic = new byte[4];
        b.get(magic);
        if (!"GGUF".equals(new String(magic, StandardCharsets.US_ASCII))) {
            throw new IOException("not a GGUF file: " + path);
        }
        int version = b.getInt();
        if (version != 2 && version != 3) {
            throw new IOException("unsupported GGUF version " + version + ": " + path);
        }
        long nTensors = b.getLong();
        long nKv = b.getLong();
        for (long i = 0; i < nKv; i++) {
            String key = string(b);
            metadata.put(key, value(b, b.getInt()));
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, long[]> typeAndOffset = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            String name = string(b);
            long[] shape = new long[b.getInt()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = b.getLong();
            }
            shapes.put(name, shape);
            typeAndOffset.put(name, new long[] {b.getInt(), b.getLong()});
        }
        Object align = metadata.get("general.alignment");
        long alignment = align instanceof Number n ? n.longValue() : 32;
        long dataStart = (b.position() + alignment - 1) / alignment * alignment;
        for (String name : shapes.keySet()) {
            long[] to = typeAndOffset.get(name);
            tensors.put(name, new TensorInfo(name, shapes.get(name), (int) to[0], dataStart + to[1]));
        }
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public String string(String key) {
        Object v = metadata.get(key);
        return v instanceof String s ? s : null;
    }

    /** An integer value, or null when absent or not a single integer. */
    public Long integer(String key) {
        Object v = metadata.get(key);
        return v instanceof Number n && !(v instanceof Float) && !(v instanceof Double) ? n.longValue() : null;
    }

    /** The values of an F32 or BF16 tensor, as floats. */
    public float[] readF32(String name) throws IOException {
        TensorInfo t = tensors.get(name);
        if (t == null || (t.type() != 0 && t.type() != 30)) {
            throw new IOException("no F32 or BF16 tensor " + name + " in " + path);
        }
        long n = 1;
        for (long s : t.shape()) {
            n *= s;
        }
        boolean bf16 = t.type() == 30;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, t.fileOffset(), n * (bf16 ? 2 : 4))
                    .order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[(int) n];
            if (bf16) {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat(Short.toUnsignedInt(b.getShort()) << 16);
                }
            } else {
                b.asFloatBuffer().get(out);
            }
            return out;
        }
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[Math.toIntExact(b.getLong())];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer b, int type) {
        switch (type) {
            case 0: return (long) Byte.toUnsignedInt(b.get());
            case 1: return (long) b.get();
            case 2: return (long) Short.toUnsignedInt(b.getShort());
            case 3: return (long) b.getShort();
            case 4: return Integer.toUnsignedLong(b.getInt());
            case 5: return (long) b.getInt();
            case 6: return b.getFloat();
            case 7: return b.get() != 0;
            case 8: return string(b);
            case 9: {
                int elem = b.getInt();
                long n = b.getLong();
                List<Object> items = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    Object v = value(b, elem);
                    if (items.size() < 65536) {
                        items.add(v); // long arrays (vocabularies) are read past, not kept
                    }
                }
                return items;
            }
            case 10: return b.getLong();
            case 11: return b.getLong();
            case 12: return b.getDouble();
            default: throw new IllegalArgumentException("unknown GGUF value type " + type);
        }
    }
}
