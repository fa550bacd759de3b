// README: `export const API = "https://chat-api.example.com";`. The test page is told the service's address.
export const API = new URLSearchParams(location.search).get("api") ?? location.origin;
