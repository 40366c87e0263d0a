// Definitions of the symbols that the NodeGui addon (nodegui_core.node)
// expects from the patched Node.js binary "qode", so that the addon loads in
// plain Node.js. Qode runs Qt's event loop inside Node's; here the caller
// pumps Qt events from a JavaScript timer instead, so the run loop pointer is
// stored and never called.
//
// Load this module with RTLD_GLOBAL before the addon, so that the dynamic
// linker resolves the addon's undefined qode symbols against it.
#include <node_api.h>

namespace qode {
int qode_argc = 0;
char **qode_argv = nullptr;

static int (*stored_run_loop)() = nullptr;

void InjectCustomRunLoop(int (*run_loop)()) { stored_run_loop = run_loop; }
}  // namespace qode

// An empty Node-API module: process.dlopen() rejects a library that does not
// register itself as a module.
static napi_value Init(napi_env, napi_value exports) { return exports; }

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
