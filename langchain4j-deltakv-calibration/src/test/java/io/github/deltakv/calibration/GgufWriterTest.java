package io.github.deltakv.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF writer lays out version-3 files as llama.cpp's gguf reader expects them. */
class GgufWriterTest {

    @TempDir
    Path tmp;

    @Test
    void header_metadata_tensor_info_and_aligned_data() throws Exception {
        Path out = tmp.resolve("t.gguf");
        new GgufWriter().putString("general.type", "deltakv").putUInt32("deltakv.version", 1)
                .putInt32Array("deltakv.full_layers", new int[] {0, 4})
                .putTensor("blk.1.dkv_dec.bias", new float[] {1.5f, -2f, 3f}, 3)
                .write(out);

        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        b.get(magic);
        assertThat(new String(magic, StandardCharsets.US_ASCII)).isEqualTo("GGUF");
        assertThat(b.getInt()).isEqualTo(3);
        assertThat(b.getLong()).isEqualTo(1);  // tensors
        assertThat(b.getLong()).isEqualTo(3);  // key-value pairs
        assertThat(string(b)).isEqualTo("general.type");
        assertThat(b.getInt()).isEqualTo(8);
        assertThat(string(b)).isEqualTo("deltakv");
        assertThat(string(b)).isEqualTo("deltakv.version");
        assertThat(b.getInt()).isEqualTo(4);
        assertThat(b.getInt()).isEqualTo(1);
        assertThat(string(b)).isEqualTo("deltakv.full_layers");
        assertThat(b.getInt()).isEqualTo(9);
        assertThat(b.getInt()).isEqualTo(5);
        assertThat(b.getLong()).isEqualTo(2);
        assertThat(b.getInt()).isZero();
        assertThat(b.getInt()).isEqualTo(4);
        assertThat(string(b)).isEqualTo("blk.1.dkv_dec.bias");
        assertThat(b.getInt()).isEqualTo(1);   // dims
        assertThat(b.getLong()).isEqualTo(3);  // ne0
        assertThat(b.getInt()).isZero();       // F32
        assertThat(b.getLong()).isZero();      // offset in the data section
        int data = (b.position() + 31) / 32 * 32;
        assertThat(b.getFloat(data)).isEqualTo(1.5f);
        assertThat(b.getFloat(data + 8)).isEqualTo(3f);
        assertThat(b.capacity() % 32).isZero();
    }

    @Test
    void a_tensor_whose_values_do_not_fill_its_shape_is_refused() {
        assertThatThrownBy(() -> new GgufWriter().putTensor("x", new float[5], 2, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x");
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[(int) b.getLong()];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
