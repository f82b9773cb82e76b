/* The field collector's offline copy of the day (no library). The day page is fetched from
   the network first and kept; without a network the kept copy is shown. Static files carry
   their content hash in the URL, so a kept copy is always the right one. Posts are never
   handled here: the page queues them itself (today.js), so each is sent once, from one place.
   Logging out sends Clear-Site-Data, which drops this cache with the borrowers' details. */
"use strict";
const CACHE = "cf-today-v1";
const DAY = "/today";
const WAIT_MS = 4000; // on a weak network, the kept copy after this long

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); },
                 (error) => { clearTimeout(timer); reject(error); });
  });
}

async function dayFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request), WAIT_MS);
    if (response.ok && !response.redirected) await cache.put(DAY, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(DAY);
    if (kept) return kept;
    throw error;
  }
}

async function staticFromCache(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === DAY) event.respondWith(dayFirstFromNetwork(request));
  else if (url.pathname.startsWith("/static/")) event.respondWith(staticFromCache(request));
});
