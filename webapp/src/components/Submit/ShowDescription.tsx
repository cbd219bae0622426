/** A code span of CommonMark, the markup of OpenAPI descriptions: `x` or ``x``. */
const CODE_SPAN = /(`+)(.+?)\1/;

/** A description as plain text, for a tooltip: the code spans without their backticks. */
export function plainDescription(text: string): string {
  return text.replace(new RegExp(CODE_SPAN.source, "g"), "$2");
}

/** A description from the API, its code spans shown as code. */
export function ShowDescription({ text }: { text: string }) {
  // Split with two groups: text, backticks, code, text, backticks, code, ..., text.
  const parts = text.split(CODE_SPAN);
  return (
    <>
      {parts.map((part, index) =>
        index % 3 === 0 ? part : index % 3 === 2 ? <code key={index}>{part}</code> : null,
      )}
    </>
  );
}
