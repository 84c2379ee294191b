export { resolveModelDir, DEFAULT_MODEL_FILES, type ResolveModelOptions } from './resolve.js';
export { hubDownload, type HubDownloadOptions } from './download.js';
export {
  createBranch,
  createRepo,
  listRefs,
  listRepoFiles,
  modelInfo,
  type CreateRepoOptions,
  type ModelInfo,
  type RepoRefs,
  type TreeEntry,
} from './api.js';
export { commit, uploadFiles, type CommitInfo, type CommitOperation, type CommitOptions } from './upload.js';
export { pushToHub, type PushResult, type PushToHubOptions } from './push.js';
export { modelCard, parseCardData, type ModelCardData } from './card.js';
export { HubError, type HubErrorCode } from './errors.js';
export { hubCacheDir, hubEndpoint, hubToken, isOfflineMode } from './env.js';
export { startHubServer, type HubServerOptions, type RunningHubServer } from './server/server.js';
export { TokenStore } from './server/auth.js';
