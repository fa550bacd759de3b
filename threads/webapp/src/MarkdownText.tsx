// Assistant replies as Markdown: assistant-ui's MarkdownTextPrimitive (react-markdown + GFM), code blocks
// highlighted by Prism (the light build, with a fixed set of languages bundled: nothing is fetched at run time)
// through @assistant-ui/react-syntax-highlighter, and a header with the language and a copy button.

import { makePrismLightSyntaxHighlighter } from "@assistant-ui/react-syntax-highlighter";
import {
  MarkdownTextPrimitive,
  unstable_memoizeMarkdownComponents as memoizeMarkdownComponents,
  useIsMarkdownCodeBlock,
  type CodeHeaderProps,
} from "@assistant-ui/react-markdown";
import { CheckIcon, CopyIcon } from "lucide-react";
import { memo, useEffect, useRef, useState } from "react";
import { PrismLight } from "react-syntax-highlighter";
import bash from "react-syntax-highlighter/dist/esm/languages/prism/bash";
import c from "react-syntax-highlighter/dist/esm/languages/prism/c";
import cpp from "react-syntax-highlighter/dist/esm/languages/prism/cpp";
import css from "react-syntax-highlighter/dist/esm/languages/prism/css";
import diff from "react-syntax-highlighter/dist/esm/languages/prism/diff";
import go from "react-syntax-highlighter/dist/esm/languages/prism/go";
import java from "react-syntax-highlighter/dist/esm/languages/prism/java";
import javascript from "react-syntax-highlighter/dist/esm/languages/prism/javascript";
import json from "react-syntax-highlighter/dist/esm/languages/prism/json";
import jsx from "react-syntax-highlighter/dist/esm/languages/prism/jsx";
import markup from "react-syntax-highlighter/dist/esm/languages/prism/markup";
import python from "react-syntax-highlighter/dist/esm/languages/prism/python";
import rust from "react-syntax-highlighter/dist/esm/languages/prism/rust";
import sql from "react-syntax-highlighter/dist/esm/languages/prism/sql";
import tsx from "react-syntax-highlighter/dist/esm/languages/prism/tsx";
import typescript from "react-syntax-highlighter/dist/esm/languages/prism/typescript";
import yaml from "react-syntax-highlighter/dist/esm/languages/prism/yaml";
import remarkGfm from "remark-gfm";

const LANGUAGES: Record<string, unknown> = {
  bash, c, cpp, css, diff, go, java, javascript, json, jsx, markup, python, rust, sql, tsx, typescript, yaml,
};
const ALIASES: Record<string, string> = {
  sh: "bash", shell: "bash", zsh: "bash", console: "bash", js: "javascript", mjs: "javascript", ts: "typescript",
  py: "python", html: "markup", xml: "markup", svg: "markup", yml: "yaml", rs: "rust", "c++": "cpp",
};
for (const [name, grammar] of Object.entries(LANGUAGES)) PrismLight.registerLanguage(name, grammar);
for (const [alias, name] of Object.entries(ALIASES)) PrismLight.registerLanguage(alias, LANGUAGES[name]);

// Token colours come from the stylesheet (light and dark themes), not inline styles.
const SyntaxHighlighter = makePrismLightSyntaxHighlighter({ useInlineStyles: false, wrapLongLines: false });

export function useCopy(resetMs = 2000) {
  const [copied, setCopied] = useState(false);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = (text: string) => {
    void navigator.clipboard?.writeText(text).then(() => {
      setCopied(true);
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => setCopied(false), resetMs);
    });
  };
  return { copied, copy };
}

function CodeHeader({ language, code }: CodeHeaderProps) {
  const { copied, copy } = useCopy();
  return (
    <div className="code-header" data-testid="code-header">
      <span className="code-lang">{language || "text"}</span>
      <button
        type="button"
        className="icon-btn code-copy"
        data-testid="code-copy"
        data-copied={copied || undefined}
        aria-label={copied ? "Code copied" : "Copy code"}
        title={copied ? "Copied" : "Copy code"}
        onClick={() => copy(code)}
      >
        {copied ? <CheckIcon aria-hidden size={15} /> : <CopyIcon aria-hidden size={15} />}
        <span>{copied ? "Copied" : "Copy"}</span>
      </button>
    </div>
  );
}

function InlineOrBlockCode({ className, ...props }: React.ComponentPropsWithoutRef<"code">) {
  const isBlock = useIsMarkdownCodeBlock();
  return <code className={isBlock ? className : `inline-code ${className ?? ""}`.trim()} {...props} />;
}

const components = memoizeMarkdownComponents({
  SyntaxHighlighter,
  CodeHeader,
  code: InlineOrBlockCode,
  pre: ({ className, ...props }) => <pre className={`code-block ${className ?? ""}`.trim()} {...props} />,
  a: ({ ...props }) => <a target="_blank" rel="noreferrer noopener" {...props} />,
  table: ({ ...props }) => (
    <div className="table-wrap">
      <table {...props} />
    </div>
  ),
});

function MarkdownTextImpl() {
  return (
    <MarkdownTextPrimitive
      className="markdown"
      remarkPlugins={[remarkGfm]}
      components={components}
      smooth={false}
      containerProps={{ "data-testid": "markdown" } as Record<string, string>}
    />
  );
}

export const MarkdownText = memo(MarkdownTextImpl);
export default MarkdownText;
