/**
 * Reading a request's URL without trusting it. Any web page can make a browser send `GET /%ff` (an <img> tag is
 * enough), and Node's HTTP parser passes targets like `//[` through: `new URL` and `decodeURIComponent` throw on
 * them, so servers go through these and answer undefined with 400.
 */

/**
 * The request target as a URL, or undefined when it does not parse or its path holds a percent-escape that is not
 * UTF-8 (query strings are decoded leniently by URLSearchParams, so they need no check).
 */
export function parseRequestUrl(target: string | undefined): URL | undefined {
  try {
    const url = new URL(target ?? '/', 'http://request.invalid');
    decodeURIComponent(url.pathname);
    return url;
  } catch {
    return undefined;
  }
}

/** A percent-decoded URL component, or undefined when its escapes are not valid UTF-8. */
export function decodeUrlComponent(component: string): string | undefined {
  try {
    return decodeURIComponent(component);
  } catch {
    return undefined;
  }
}

export const MALFORMED_URL_MESSAGE = 'malformed URL: it does not parse, or its percent-escapes are not valid UTF-8';
