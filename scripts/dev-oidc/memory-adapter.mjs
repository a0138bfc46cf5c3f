// @ts-check
// In-memory storage for the development provider's sessions, interactions,
// codes and tokens. Everything is lost on restart, which is what a local
// development provider wants; entries expire when oidc-provider says so.

/** @returns {(model: string) => object} an oidc-provider adapter factory */
export function createMemoryAdapter() {
  /** @type {Map<string, { payload: any, expiresAt: number }>} */
  const store = new Map();

  /** @param {string} key */
  function get(key) {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  return (model) => ({
    /** @param {string} id @param {any} payload @param {number | undefined} expiresIn */
    async upsert(id, payload, expiresIn) {
      const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(`${model}:${id}`, { payload, expiresAt });
    },
    /** @param {string} id */
    async find(id) {
      return get(`${model}:${id}`);
    },
    /** @param {string} uid */
    async findByUid(uid) {
      for (const [key] of store) {
        if (key.startsWith(`${model}:`) && get(key)?.uid === uid) return get(key);
      }
      return undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    /** @param {string} id */
    async consume(id) {
      const payload = get(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    /** @param {string} id */
    async destroy(id) {
      store.delete(`${model}:${id}`);
    },
    /** @param {string} grantId */
    async revokeByGrantId(grantId) {
      for (const [key, entry] of store) {
        if (entry.payload?.grantId === grantId) store.delete(key);
      }
    },
  });
}
