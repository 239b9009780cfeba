/**
 * `@freepik/ai-orchestrator-client`: the TypeScript/JavaScript client for the Freepik AI
 * Orchestrator. Zero runtime dependencies; runs wherever `fetch` does.
 */
export {
  OrchestrationClient,
  BatchResult,
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT,
  type BatchItem,
  type BatchOptions,
  type ClientOptions,
  type DownloadOptions,
  type FetchLike,
  type GenerationEvent,
  type HistoryParams,
  type MutationOptions,
  type OperationOptions,
  type RequestOptions,
  type UsageParams,
  type WaitOptions,
  type WaitingOperationOptions,
} from "./client.js";
export {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  BudgetExceededError,
  ConflictError,
  ContentPolicyError,
  DestinationExistsError,
  InternalServerError,
  InvalidRequestError,
  ModelNotAvailableError,
  NotFoundError,
  OrchestrationError,
  PermissionDeniedError,
  ProviderError,
  ProviderTimeoutError,
  RateLimitError,
  WebhookVerificationError,
  type ErrorFields,
} from "./errors.js";
export { Page, PagePromise } from "./pagination.js";
export {
  DEFAULT_WEBHOOK_TOLERANCE,
  WEBHOOK_EVENTS,
  verifyWebhook,
  type VerifyWebhookOptions,
} from "./webhooks.js";
export type * from "./types.js";
export { VERSION } from "./version.js";
