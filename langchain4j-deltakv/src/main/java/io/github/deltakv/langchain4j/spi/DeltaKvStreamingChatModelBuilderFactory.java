package io.github.deltakv.langchain4j.spi;

import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.function.Supplier;

/** A service that supplies the builder {@link DeltaKvStreamingChatModel#builder()} returns (frameworks plug in here). */
public interface DeltaKvStreamingChatModelBuilderFactory extends Supplier<DeltaKvStreamingChatModel.Builder> {
}
