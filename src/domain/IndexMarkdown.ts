import type { RepositoryIndex } from "./Records.ts"

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ")

/** First line of index.md; it names the index serial it was rendered from. */
export const indexMarkdownMarker = (serial: number) => `<!-- relpub index serial ${serial} -->`

/** The serial an index.md was rendered from, or -1 when it has none. */
export const indexMarkdownSerial = (text: string): number => {
  const match = /^<!-- relpub index serial (\d+) -->/.exec(text)
  return match === null ? -1 : Number(match[1])
}

const megabytes = (bytes: number) => (bytes / (1024 * 1024)).toFixed(2)

/** `index.md`: the catalog for people, newest first; yanked versions say so. */
export const renderIndexMarkdown = (index: RepositoryIndex): string => {
  const lines = [
    indexMarkdownMarker(index.serial),
    "# Release index",
    "",
    `${index.total_releases} release${index.total_releases === 1 ? "" : "s"}, last updated ` +
      `${index.last_updated ?? "never"}.`,
    ""
  ]
  if (index.releases.length > 0) {
    lines.push(
      "| version | published | files | size (MiB) | signed | SHA-256 |",
      "| --- | --- | --- | --- | --- | --- |"
    )
    for (const r of index.releases) {
      const version = cell(r.version) + (r.yanked === undefined ? "" : " (yanked)")
      lines.push(
        `| ${version} | ${cell(r.timestamp)} | ${r.artifacts.length} | ` +
          `${megabytes(r.size_bytes)} | ` +
          `${r.signed ? "yes" : "no"} | \`${r.sha256}\` |`
      )
    }
  }
  return lines.join("\n") + "\n"
}
