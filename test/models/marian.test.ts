import { MarianMTModel } from '../../src/models/marian/modeling_marian.js';
import { describeSeq2SeqGolden } from '../generation/seq2seq-golden.js';

describeSeq2SeqGolden('marian', (dir) => MarianMTModel.fromPretrained(dir));
