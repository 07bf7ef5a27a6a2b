// keyv, from this directory's dependencies, for the Node tests in tests/js/
// (which resolve packages from the repository's root).
export { default as Keyv } from "keyv";
