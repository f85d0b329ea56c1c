/**
 * TypeDoc plugin for the API reference (typedoc.json loads it). Two jobs:
 *
 * 1. Categories by layer. The root export re-exports every layer, so its page would be one long
 *    list; each declaration is put in a category by the file it is declared in (CATEGORIES, first
 *    match wins), and `categoryOrder` in typedoc.json orders them. A declaration's own
 *    `@category` tag takes precedence. A file no pattern matches is reported as a warning, so
 *    `npm run docs:check` fails until the table has an entry for it.
 * 2. Members of anonymous types are documented by their owner. The fields of an inline object type
 *    (`{ cos: Tensor; sin: Tensor }` as a return type, the literal variants of MATMUL_VARIANTS)
 *    and the members a mapped type makes (OpAttrs' elementwise entries, from
 *    `Record<ElementwiseOp, Scalars>`) have no declaration of their own to comment, so the check
 *    does not ask for one as long as the declaration that owns them is documented. Everything
 *    with a declaration of its own is still required to have a comment.
 */
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Source path (relative to the repository, `/`-separated) → category; first match wins. */
const CATEGORIES = [
  [/^lrp\/render\//, 'Rendering'],
  [/^lrp\/(evaluate\.ts|eval\/)/, 'Evaluation'],
  [/^lrp\/(rules\/|methods\.ts|composites\.ts|methodDescription\.ts|harness\.ts)/, 'Rules and methods'],
  [/^lrp\//, 'Explanation'],
  [/^nn\/train\//, 'Training'],
  [/^nn\/(load|hub-cache|safetensors|safetensorsWriter|config|files|tokenizer|offsets|image)\.ts$/, 'Loading'],
  [/^nn\//, 'Models'],
  [/^autograd\/ops\//, 'Tensor ops'],
  [/^(autograd\/|kernels\/errors\.ts$)/, 'Engine'],
  [/^kernels\//, 'GPU runtime'],
];

function categoryOf(file) {
  const path = relative(ROOT, file).split(sep).join('/');
  return CATEGORIES.find(([pattern]) => pattern.test(path))?.[1];
}

/** Whether the reflection (or, for functions, one of its signatures) carries a comment. */
function documented(reflection) {
  if (reflection.hasComment()) return true;
  const signatures = reflection.signatures ?? reflection.type?.declaration?.signatures ?? [];
  return signatures.some((s) => s.hasComment());
}

function hasCategoryTag(reflection) {
  const comments = [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment)];
  return comments.some((c) => c?.blockTags.some((t) => t.tag === '@category'));
}

/**
 * Tags a documented module-level declaration with its file's category. The tag goes into an
 * existing comment only: giving an undocumented declaration a comment would hide it from the
 * documentation check.
 */
function tagCategory(reflection, file, logger) {
  if (hasCategoryTag(reflection)) return;
  const category = categoryOf(file);
  if (!category) {
    logger.warn(`${reflection.getFriendlyFullName()} (${relative(ROOT, file)}) is in no category: add its file to CATEGORIES in scripts/typedoc-plugin.mjs`);
    return;
  }
  const comment = reflection.comment ?? reflection.signatures?.find((s) => s.comment)?.comment;
  comment?.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: category }]));
}

/**
 * A re-export of a declaration documented elsewhere (a subpath module re-exporting what the root
 * module owns) goes in its target's category. A reference carries no documentation of its own, so
 * a comment holding only the tag hides nothing from the check.
 */
function categoriseReference(reference, files) {
  const target = reference.getTargetReflectionDeep();
  const category = files.get(target) && categoryOf(files.get(target));
  if (!category || hasCategoryTag(reference)) return;
  reference.comment ??= new Comment();
  reference.comment.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: category }]));
}

/** The nearest ancestor that is not an anonymous type literal or a signature of one. */
function owner(reflection) {
  let r = reflection.parent;
  while (r && (r.kindOf(ReflectionKind.TypeLiteral) || r.parent?.kindOf(ReflectionKind.TypeLiteral))) r = r.parent;
  return r;
}

function insideParameter(reflection) {
  for (let r = reflection.parent; r; r = r.parent) if (r.kindOf(ReflectionKind.Parameter)) return true;
  return false;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  const files = new Map();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    const declaration = context.getSymbolFromReflection(reflection)?.declarations?.[0];
    files.set(reflection, declaration?.getSourceFile().fileName);
  });

  // Before the category plugin (priority −200) and before validation, which runs after conversion.
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const project = context.project;
    for (const module of project.getReflectionsByKind(ReflectionKind.Module)) {
      for (const child of module.children ?? []) {
        if (!child.kindOf(ReflectionKind.SomeExport) || child.kindOf(ReflectionKind.Module)) continue;
        if (child.isReference()) categoriseReference(child, files);
        else if (files.get(child)) tagCategory(child, files.get(child), app.logger);
      }
    }

    const exempt = new Set(app.options.getValue('intentionallyNotDocumented'));
    for (const property of project.getReflectionsByKind(ReflectionKind.Property)) {
      if (property.hasComment() || insideParameter(property)) continue;
      const anonymous = property.parent?.kindOf(ReflectionKind.TypeLiteral);
      const mapped = files.has(property) && files.get(property) === undefined;
      const by = owner(property);
      if ((anonymous || mapped) && by && documented(by)) exempt.add(property.getFriendlyFullName());
    }
    app.options.setValue('intentionallyNotDocumented', [...exempt]);
  });
}
