package io.github.deltakv.it;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the fields of a GGUF file lie (version 3, little-endian): each metadata value, each tensor's dimensions,
 * type and offset, and the data section. The side-file fuzzer mutates these places.
 */
final class GgufLayout {

    /** A metadata value: its key, GGUF type, and the byte range of the value (an array's: its element type on). */
    record Value(String key, int type, int offset, int length) {
    }

    /** A tensor's description: where its dimension count, dimensions, type and data offset are written. */
    record TensorInfo(String name, int dimsOffset, int nDims, int typeOffset, int dataOffsetOffset, long dataOffset,
                      long elements) {
    }

    static final int TYPE_STRING = 8;
    static final int TYPE_ARRAY = 9;

    final List<Value> values = new ArrayList<>();
    final List<TensorInfo> tensors = new ArrayList<>();
    final int headerEnd;
    final int dataStart;

    private final ByteBuffer buf;

    GgufLayout(byte[] file) {
        buf = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        buf.position(8); // magic, version
        long nTensors = buf.getLong();
        long nValues = buf.getLong();
        long alignment = 32;
        for (long i = 0; i < nValues; i++) {
            String key = string();
            int type = buf.getInt();
            int start = buf.position();
            skipValue(type);
            values.add(new Value(key, type, start, buf.position() - start));
            if (key.equals("general.alignment")) {
                alignment = Integer.toUnsignedLong(buf.getInt(start));
            }
        }
        for (long i = 0; i < nTensors; i++) {
            String name = string();
            int dimsAt = buf.position();
            int nDims = buf.getInt();
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                elements *= buf.getLong();
            }
            int typeAt = buf.position();
            buf.getInt();
            int offsetAt = buf.position();
            tensors.add(new TensorInfo(name, dimsAt, nDims, typeAt, offsetAt, buf.getLong(), elements));
        }
        headerEnd = buf.position();
        dataStart = (int) ((headerEnd + alignment - 1) / alignment * alignment);
    }

    private String string() {
        int n = (int) buf.getLong();
        byte[] bytes = new byte[n];
        buf.get(bytes);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }

    private void skipValue(int type) {
        switch (type) {
            case 0, 1, 7 -> buf.position(buf.position() + 1);
            case 2, 3 -> buf.position(buf.position() + 2);
            case 4, 5, 6 -> buf.position(buf.position() + 4);
            case 10, 11, 12 -> buf.position(buf.position() + 8);
            case TYPE_STRING -> string();
            case TYPE_ARRAY -> {
                int elementType = buf.getInt();
                long n = buf.getLong();
                for (long i = 0; i < n; i++) {
                    skipValue(elementType);
                }
            }
            default -> throw new IllegalArgumentException("GGUF value type " + type);
        }
    }
}
