// Types for oidc-provider's request AsyncLocalStorage (what Provider.ctx reads), used to run adapter calls "inside" a request.
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';
  const als: AsyncLocalStorage<object>;
  export default als;
}
