export { resolveModelDir, DEFAULT_MODEL_FILES, type ResolveModelOptions } from './resolve.js';
export { hubDownload, type HubDownloadOptions } from './download.js';
export { modelInfo, type ModelInfo } from './api.js';
export { HubError, type HubErrorCode } from './errors.js';
export { hubCacheDir, hubEndpoint, hubToken, isOfflineMode } from './env.js';
