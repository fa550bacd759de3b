// `@assistant-ui/react-syntax-highlighter` imports four builds from the package root (Light, LightAsync,
// PrismLight, PrismAsyncLight); the async ones would add hundreds of lazily loaded language chunks to the build.
// vite.config.ts points the bare package name here: only the Prism light build (languages registered in
// MarkdownText.tsx) is bundled. Deep imports (react-syntax-highlighter/dist/esm/...) are unaffected.
import PrismLight from "react-syntax-highlighter/dist/esm/prism-light";

export { PrismLight };
export const Light = PrismLight;
export const LightAsync = PrismLight;
export const PrismAsyncLight = PrismLight;
export default PrismLight;
