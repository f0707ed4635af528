package io.github.deltakv.calibration;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a GGUF file (version 3, little-endian, 32-byte alignment): metadata key-value pairs, then F32 or BF16
 * tensors. Enough for DeltaKV side files; the file appears complete or not at all (written beside, then
 * moved).
 */
public final class GgufWriter {

    private static final int ALIGNMENT = 32;
    private static final int TYPE_UINT32 = 4;
    private static final int TYPE_INT32 = 5;
    private static final int TYPE_STRING = 8;
    private static final int TYPE_ARRAY = 9;
    /** Element types a tensor can be written in. */
    public enum TensorType {
        F32(0, 4), BF16(30, 2);

        final int ggmlType;
        final int bytes;

        TensorType(int ggmlType, int bytes) {
            this.ggmlType = ggmlType;
            this.bytes = bytes;
        }
    }

    private record Tensor(String name, long[] shape, float[] data, TensorType type) {
    }

    private final List<byte[]> kvs = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();

    public GgufWriter putString(String key, String value) {
        ByteBuffer b = buffer(12 + key.length() * 3L + value.length() * 3L + 16);
        string(b, key);
        b.putInt(TYPE_STRING);
        string(b, value);
        kvs.add(bytes(b));
        return this;
    }

    public GgufWriter putUInt32(String key, int value) {
        ByteBuffer b = buffer(20 + key.length() * 3L);
        string(b, key);
        b.putInt(TYPE_UINT32);
        b.putInt(value);
        kvs.add(bytes(b));
        return this;
    }

    public GgufWriter putInt32Array(String key, int[] values) {
        ByteBuffer b = buffer(32 + key.length() * 3L + values.length * 4L);
        string(b, key);
        b.putInt(TYPE_ARRAY);
        b.putInt(TYPE_INT32);
        b.putLong(values.length);
        for (int v : values) {
            b.putInt(v);
        }
        kvs.add(bytes(b));
        return this;
    }

    /** An F32 tensor; {@code shape} in ggml order (ne0 first, the contiguous dimension). */
    public GgufWriter putTensor(String name, float[] data, long... shape) {
        return putTensor(name, TensorType.F32, data, shape);
    }

    /**
     * A tensor of {@code type} (BF16: each value rounded to nearest even, exact for values that came from BF16);
     * {@code shape} in ggml order.
     */
    public GgufWriter putTensor(String name, TensorType type, float[] data, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values for shape " + java.util.Arrays.toString(shape));
        }
        tensors.add(new Tensor(name, shape.clone(), data, type));
        return this;
    }

    public void write(Path out) throws IOException {
        Path tmp = Files.createTempFile(out.toAbsolutePath().getParent(), out.getFileName().toString(), ".part");
        try (OutputStream os = Files.newOutputStream(tmp)) {
            ByteBuffer head = buffer(24);
            head.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(tensors.size()).putLong(kvs.size());
            long written = write(os, bytes(head));
            for (byte[] kv : kvs) {
                written += write(os, kv);
            }
            long offset = 0;
            for (Tensor t : tensors) {
                ByteBuffer b = buffer(64 + t.name.length() * 3L + t.shape.length * 8L);
                string(b, t.name);
                b.putInt(t.shape.length);
                for (long s : t.shape) {
                    b.putLong(s);
                }
                b.putInt(t.type.ggmlType);
                b.putLong(offset);
                written += write(os, bytes(b));
                offset = align(offset + (long) t.data.length * t.type.bytes);
            }
            written += write(os, new byte[(int) (align(written) - written)]);
            for (Tensor t : tensors) {
                ByteBuffer b = buffer((long) t.data.length * t.type.bytes);
                if (t.type == TensorType.BF16) {
                    for (float v : t.data) {
                        b.putShort(bf16(v));
                    }
                } else {
                    b.asFloatBuffer().put(t.data);
                    b.position(t.data.length * 4);
                }
                written += write(os, bytes(b));
                written += write(os, new byte[(int) (align(written) - written)]);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The BF16 nearest to {@code v} (ties to even; NaN stays NaN). */
    static short bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    private static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static long write(OutputStream os, byte[] b) throws IOException {
        os.write(b);
        return b.length;
    }

    private static ByteBuffer buffer(long size) {
        return ByteBuffer.allocate(Math.toIntExact(size)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void string(ByteBuffer b, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        b.putLong(utf8.length);
        b.put(utf8);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.position()];
        b.flip();
        b.get(out);
        return out;
    }
}
