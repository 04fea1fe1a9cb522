// The service's API as the review page uses it: bearer key from sessionStorage, errors carrying
// the service's own message, uploads with progress, authenticated images as object URLs.

const KEY = 'softpatch.apiKey';

export const apiKey = {
  get: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : `HTTP ${status}`);
    this.status = status;
    this.code = e ? e.code : 'http_error';
    this.details = e ? e.details : undefined;
  }
}

/** Called with no arguments when the service answers 401; set by the app (asks for a key). */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function headers(extra = {}) {
  const h = { ...extra };
  const k = apiKey.get();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

async function failure(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: the status alone
  }
  const err = new ApiError(res.status, body);
  if (res.status === 401) onUnauthorized(err);
  return err;
}

/** JSON in, JSON out (null for 204). */
export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json();
}

/** A binary answer (PNG, stored image) as an object URL; the caller revokes it. */
export async function blobUrl(path) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}

/** Multipart upload of `files` in the field "images" with upload progress (0..1). */
export function upload(path, files, onProgress) {
  return new Promise((resolve, reject) => {
    const fd = new FormData();
    for (const f of files) fd.append('images', f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, { error: { code: 'network', message: 'The upload did not reach the service' } }));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const err = new ApiError(xhr.status, body);
        if (xhr.status === 401) onUnauthorized(err);
        reject(err);
      }
    };
    xhr.send(fd);
  });
}
