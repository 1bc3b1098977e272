// Yjs warns when a cell's shared type is read before it joins the document,
// which YNotebook.insertCell does by design; keep the test output readable.
const warn = console.warn;
console.warn = (...args: unknown[]) => {
  if (
    typeof args[0] === 'string' &&
    args[0].startsWith('Invalid access: Add Yjs type')
  ) {
    return;
  }
  warn(...args);
};
