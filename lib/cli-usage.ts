/** Names (configuration keys, flags) for a `--help` text: space-separated, indented, wrapped under 100 columns. */
export function nameList(names: readonly string[], indent = '  ', width = 98): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    if (line && indent.length + line.length + 1 + name.length > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line} ${name}` : name;
  }
  if (line) lines.push(line);
  return lines.map((text) => `${indent}${text}`).join('\n');
}
