// replaced by the networks
namespace dq { int models_placeholder = 0; }
