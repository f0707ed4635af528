#include "chat_format.h"

#include "json.h"

#include <stdexcept>

namespace dkv {

chat_templates * new_chat_templates(const llama_model * model, const std::string & template_override) {
    auto * t = new chat_templates();
    t->tmpls = common_chat_templates_init(model, template_override);
    if (!t->tmpls) {
        delete t;
        throw std::runtime_error("cannot initialise the chat template");
    }
    return t;
}

std::string apply_chat_template(const chat_templates * t, const std::string & messages_json,
                                const std::string & tools_json, bool add_generation_prompt) {
    common_chat_templates_inputs inputs;
    inputs.messages              = common_chat_msgs_parse_oaicompat(common_json::parse(messages_json));
    inputs.add_generation_prompt = add_generation_prompt;
    inputs.use_jinja             = true;
    if (!tools_json.empty()) {
        inputs.tools = common_chat_tools_parse_oaicompat(common_json::parse(tools_json));
    }
    return common_chat_templates_apply(t->tmpls.get(), inputs).prompt;
}

bool template_supports_tools(const chat_templates * t) {
    const auto caps = common_chat_templates_get_caps(t->tmpls.get());
    const auto it   = caps.find("supports_tools");
    return it != caps.end() && it->second;
}

std::string template_source(const chat_templates * t) {
    return common_chat_templates_source(t->tmpls.get());
}

} // namespace dkv
