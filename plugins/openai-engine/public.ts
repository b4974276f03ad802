/** The remote engine, for scripts that talk to vLLM / SGLang / agent0 serve without a recipe. */
export { OpenAIRolloutEngine, RemoteEngineError, type EngineStats } from './engine.js';
export { type OpenAIEngineOptions } from './options.js';
