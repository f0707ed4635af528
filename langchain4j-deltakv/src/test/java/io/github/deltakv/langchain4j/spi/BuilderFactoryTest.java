package io.github.deltakv.langchain4j.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import org.junit.jupiter.api.Test;

/** builder() takes the builder a registered factory supplies (META-INF/services in the test resources). */
class BuilderFactoryTest {

    static final class MarkedBuilder extends DeltaKvChatModel.Builder {
    }

    static final class MarkedStreamingBuilder extends DeltaKvStreamingChatModel.Builder {
    }

    public static final class TestChatFactory implements DeltaKvChatModelBuilderFactory {
        @Override
        public DeltaKvChatModel.Builder get() {
            return new MarkedBuilder();
        }
    }

    public static final class TestStreamingFactory implements DeltaKvStreamingChatModelBuilderFactory {
        @Override
        public DeltaKvStreamingChatModel.Builder get() {
            return new MarkedStreamingBuilder();
        }
    }

    @Test
    void builders_come_from_the_registered_factories() {
        assertThat(DeltaKvChatModel.builder()).isInstanceOf(MarkedBuilder.class);
        assertThat(DeltaKvStreamingChatModel.builder()).isInstanceOf(MarkedStreamingBuilder.class);
    }
}
